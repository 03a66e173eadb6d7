{{ config(materialized='view') }}

-- The usage of the period containing a day, projected to the period's end: a parameterized
-- view, read as fct_subscription_usage_projected(as_of = 'YYYY-MM-DD'). Counts and sums
-- scale by the days of the subscription's window in the period over its days gone (the
-- as-of day counted); maxima, latest values, distinct counts, percentiles and time-weighted
-- sums (held to the window's end already, docs/invoicing.md) stay as they are. The
-- projected quantities are then priced like any usage (fct_projected_rated_usage): never
-- extrapolate an amount, tiers are not linear.
with

usage as (
    select * from {{ ref('fct_subscription_usage') }}
    where period = formatDateTime({as_of:Date}, '%Y-%m')
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

windows as (
    select
        usage.*,
        greatest(usage.period_start, subscriptions.start_date) as window_start,
        least(
            addMonths(usage.period_start, 1),
            ifNull(subscriptions.end_date, addMonths(usage.period_start, 1))
        ) as window_end,
        dateDiff('day', window_start, window_end) as window_days,
        least(greatest(dateDiff('day', window_start, {as_of:Date}) + 1, 1), window_days) as days_gone
    from usage
    inner join subscriptions on usage.subscription_id = subscriptions.subscription_id
)

select
    subscription_id,
    customer_id,
    plan_code,
    plan_version,
    period_start,
    period,
    metric_code,
    aggregation,
    group_value,
    if(
        aggregation in ('count', 'sum'),
        toDecimal128(quantity * window_days / days_gone, 12),
        quantity
    ) as quantity
from windows
