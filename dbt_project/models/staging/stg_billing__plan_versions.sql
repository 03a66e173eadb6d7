with

source as (
    select * from {{ source('billing', 'catalog_plan_versions') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        plan as plan_code,
        plan_name,
        version as plan_version,
        effective_from,
        currency,
        -- The version's canonical JSON (catalog/serialize.py): fixed fees, minimum, prices.
        content_json
    from source
)

select * from renamed
