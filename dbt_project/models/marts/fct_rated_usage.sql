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
    arraySort(
        groupArray((tier, units, unit_price, tier_flat_fee, tier_amount))
    ) as tiers
from {{ ref('fct_rated_usage_tiers') }}
group by subscription_id, customer_id, plan_code, plan_version, period, metric_code, group_value
