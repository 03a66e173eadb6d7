with

source as (
    select * from {{ source('billing', 'catalog_entitlements') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        subscription_id,
        customer_id,
        feature,
        kind,
        metric_code,
        limit_quantity,
        enforcement,
        period,
        enabled,
        config_json
    from source
)

select * from renamed
