{#- Rating, written once: the tiers of each usage row of a relation (`rated_tiers`), and
    their sum per row (`rated_usage`). The invoices' usage (fct_rated_usage_tiers,
    fct_rated_usage) and the projected invoice (fct_projected_rated_usage) are priced by
    the same SQL. -#}

{% macro rated_tiers(usage) %}
with

usage as (
    select * from {{ usage }}
),

prices as (
    select * from {{ ref('stg_billing__charge_prices') }}
),

tiers as (
    select * from {{ ref('stg_billing__price_tiers') }}
),

priced as (
    select
        usage.subscription_id as subscription_id,
        usage.customer_id as customer_id,
        usage.plan_code as plan_code,
        usage.plan_version as plan_version,
        usage.period as period,
        usage.metric_code as metric_code,
        usage.group_value as group_value,
        usage.quantity as quantity,
        default_price.charge_order as charge_order,
        group_price.is_group_price as uses_group_price,
        if(uses_group_price, group_price.charge_model, default_price.charge_model) as charge_model,
        if(uses_group_price, group_price.group_value, '') as price_group
    from usage
    inner join prices as default_price
        on usage.subscription_id = default_price.subscription_id
        and usage.metric_code = default_price.metric_code
        and default_price.is_group_price = false
    left join prices as group_price
        on usage.subscription_id = group_price.subscription_id
        and usage.metric_code = group_price.metric_code
        and group_price.is_group_price = true
        and ifNull(usage.group_value, '') = group_price.group_value
    settings join_use_nulls = 0
),

tiered as (
    select
        priced.*,
        tiers.tier as tier,
        tiers.lower_bound as lower_bound,
        tiers.upper_bound as upper_bound,
        tiers.unit_price as unit_price,
        tiers.flat_fee as flat_fee,
        tiers.package_size as package_size,
        tiers.free_units as free_units,
        -- package: whole packages above the free units, without rounding in the division
        greatest(quantity - free_units, toDecimal128(0, 12)) as billable,
        toDecimal128(floor(billable / ifNull(package_size, toDecimal128(1, 12))), 12) as whole_packages,
        multiIf(
            charge_model = 'per_unit', quantity,
            charge_model = 'graduated',
                greatest(least(quantity, ifNull(upper_bound, quantity)) - lower_bound, toDecimal128(0, 12)),
            charge_model = 'volume',
                if(quantity > lower_bound and (upper_bound is null or quantity <= upper_bound), quantity, toDecimal128(0, 12)),
            whole_packages + if(whole_packages * ifNull(package_size, toDecimal128(1, 12)) < billable, 1, 0)
        ) as units
    from priced
    inner join tiers
        on priced.subscription_id = tiers.subscription_id
        and priced.metric_code = tiers.metric_code
        and priced.uses_group_price = tiers.is_group_price
        and priced.price_group = tiers.group_value
)

select
    subscription_id,
    customer_id,
    plan_code,
    plan_version,
    period,
    metric_code,
    group_value,
    charge_order,
    charge_model,
    uses_group_price,
    quantity,
    tier,
    lower_bound,
    upper_bound,
    units,
    unit_price,
    if(units != 0, flat_fee, toDecimal128(0, 20)) as tier_flat_fee,
    toDecimal256(units, 12) * toDecimal256(unit_price, 20) + toDecimal256(tier_flat_fee, 32) as tier_amount
from tiered
{% endmacro %}

{% macro rated_usage(tiers) %}
select
    subscription_id,
    customer_id,
    plan_code,
    plan_version,
    period,
    metric_code,
    group_value,
    any(charge_order) as charge_order,
    any(charge_model) as charge_model,
    any(quantity) as quantity,
    sum(tier_amount) as amount,
    -- Named, so an analyst reads tiers[1].amount; the types are the columns' own (no rounding).
    arraySort(
        groupArray(
            CAST(
                (tier, units, unit_price, tier_flat_fee, tier_amount),
                'Tuple(tier UInt16, units Decimal(38, 12), unit_price Decimal(38, 20), '
                || 'flat_fee Decimal(38, 20), amount Decimal(76, 32))'
            )
        )
    ) as tiers
from {{ tiers }}
group by subscription_id, customer_id, plan_code, plan_version, period, metric_code, group_value
{% endmacro %}
