with

source as (
    select * from {{ source('billing', 'catalog_migrations') }}
),

renamed as (
    select
        migrated_at,
        plan as plan_code,
        from_version,
        to_version,
        effective as effective_date,
        requested_customers,
        moved_customers,
        catalog_version
    from source
)

select * from renamed
