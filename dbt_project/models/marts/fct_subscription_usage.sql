{{ config(materialized='view') }}

-- Metered quantity per subscription, billing period (calendar month, UTC), metric and group,
-- over the part of the period inside the subscription's [start, end) window. Rows exist only
-- where the metric counted at least one event.
with

daily as (
    select * from {{ ref('fct_metric_usage_daily') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

-- Several products at once (docs/invoicing.md): a subscription that overlaps another of its
-- customer's counts only the metrics its plan charges or its features count, so that a
-- customer's metric is never counted under two subscriptions at once.
concurrent as (
    select distinct a.subscription_id as subscription_id
    from subscriptions as a
    inner join subscriptions as b on a.customer_id = b.customer_id
    where a.subscription_id != b.subscription_id
        and (b.end_date is null or a.start_date < b.end_date)
        and (a.end_date is null or b.start_date < a.end_date)
),

own_metrics as (
    select subscription_id, metric_code from {{ ref('stg_billing__charge_prices') }}
    union distinct
    select subscription_id, assumeNotNull(metric_code) from {{ ref('stg_billing__entitlements') }}
    where metric_code is not null
)

select
    subscriptions.subscription_id as subscription_id,
    subscriptions.customer_id as customer_id,
    subscriptions.plan_code as plan_code,
    subscriptions.plan_version as plan_version,
    toStartOfMonth(daily.usage_date) as period_start,
    formatDateTime(period_start, '%Y-%m') as period,
    daily.metric_code as metric_code,
    any(daily.aggregation) as aggregation,
    if(any(daily.is_grouped), daily.group_value, null) as group_value,
    multiIf(
        aggregation = 'count', toDecimal128(sum(daily.event_count), 12),
        aggregation = 'sum', sum(daily.value_sum),
        aggregation = 'max', max(daily.value_max),
        aggregation = 'latest', argMax(daily.latest_value, (daily.latest_timestamp, daily.latest_event_id)),
        toDecimal128(uniqExactMerge(daily.distinct_values), 12)
    ) as quantity
from daily
inner join subscriptions on daily.customer_id = subscriptions.customer_id
where daily.usage_date >= subscriptions.start_date
    and (subscriptions.end_date is null or daily.usage_date < subscriptions.end_date)
    and (
        subscriptions.subscription_id not in (select subscription_id from concurrent)
        or (subscriptions.subscription_id, daily.metric_code) in (select * from own_metrics)
    )
group by
    subscriptions.subscription_id,
    subscriptions.customer_id,
    subscriptions.plan_code,
    subscriptions.plan_version,
    period_start,
    daily.metric_code,
    daily.group_value
