with

source as (
    select * from {{ source('billing', 'catalog_price_tiers') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        subscription_id,
        metric as metric_code,
        is_group_price,
        group_value,
        tier,
        lower_bound,
        upper_bound,
        unit_price,
        flat_fee,
        package_size,
        free_units
    from source
)

select * from renamed
