{{ config(materialized='view') }}

-- Exact usage of every metered feature per subscription and window, over the part of the
-- window inside the subscription's [start, end): the billing period (calendar month, UTC)
-- and the day from the daily aggregates as the last metering run left them; the hour from
-- the effective events of the last two days, since the daily table has no hours. Rows exist
-- only where the metric counted at least one event. `billing serve` adds the events it
-- accepted since (its live tail).
with

entitlements as (
    select * from {{ ref('stg_billing__entitlements') }}
    where kind = 'metered'
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

daily as (
    select * from {{ ref('fct_metric_usage_daily') }}
),

metric_events as (
    select * from {{ ref('int_metric_events') }}
    where event_date >= today() - 1
),

by_days as (
    select
        entitlements.subscription_id as subscription_id,
        entitlements.customer_id as customer_id,
        entitlements.feature as feature,
        entitlements.metric_code as metric_code,
        entitlements.period as period,
        toDateTime64(
            if(entitlements.period = 'day', daily.usage_date, toStartOfMonth(daily.usage_date)),
            3,
            'UTC'
        ) as window_start,
        any(daily.aggregation) as aggregation,
        {{ daily_quantity('daily') }} as quantity
    from daily
    inner join entitlements
        on daily.customer_id = entitlements.customer_id
        and daily.metric_code = entitlements.metric_code
    inner join subscriptions on entitlements.subscription_id = subscriptions.subscription_id
    where entitlements.period in ('billing_period', 'day')
        and daily.usage_date >= subscriptions.start_date
        and (subscriptions.end_date is null or daily.usage_date < subscriptions.end_date)
    group by subscription_id, customer_id, feature, metric_code, period, window_start
),

by_hours as (
    select
        entitlements.subscription_id as subscription_id,
        entitlements.customer_id as customer_id,
        entitlements.feature as feature,
        entitlements.metric_code as metric_code,
        entitlements.period as period,
        toStartOfHour(metric_events.event_timestamp) as window_start,
        any(metric_events.aggregation) as aggregation,
        multiIf(
            aggregation = 'count', toDecimal128(count(), 12),
            aggregation = 'sum', sum(metric_events.value),
            aggregation = 'max', max(metric_events.value),
            aggregation = 'latest', argMax(metric_events.value, (metric_events.event_timestamp, metric_events.event_id)),
            toDecimal128(uniqExact(metric_events.value_text), 12)
        ) as quantity
    from metric_events
    inner join entitlements
        on metric_events.customer_id = entitlements.customer_id
        and metric_events.metric_code = entitlements.metric_code
    inner join subscriptions on entitlements.subscription_id = subscriptions.subscription_id
    where entitlements.period = 'hour'
        and metric_events.event_date >= subscriptions.start_date
        and (subscriptions.end_date is null or metric_events.event_date < subscriptions.end_date)
    group by subscription_id, customer_id, feature, metric_code, period, window_start
)

select * from by_days
union all
select * from by_hours
