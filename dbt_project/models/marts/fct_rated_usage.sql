{{ config(materialized='view') }}

-- One row per subscription, period, charged metric and group: the quantity and its exact,
-- unrounded amount (the sum of its tiers in fct_rated_usage_tiers). Invoices round it.
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
from {{ ref('fct_rated_usage_tiers') }}
group by subscription_id, customer_id, plan_code, plan_version, period, metric_code, group_value
