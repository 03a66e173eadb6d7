with

source as (
    select * from {{ source('billing', 'catalog_charge_prices') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        subscription_id,
        metric as metric_code,
        charge_order,
        is_group_price,
        group_value,
        model as charge_model
    from source
)

select * from renamed
