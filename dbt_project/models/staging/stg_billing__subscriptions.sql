with

source as (
    select * from {{ source('billing', 'catalog_subscriptions') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        subscription_id,
        customer_id,
        plan as plan_code,
        plan_version,
        start_date,
        end_date,
        -- The subscription's canonical JSON: its overrides and discounts.
        content_json
    from source
)

select * from renamed
