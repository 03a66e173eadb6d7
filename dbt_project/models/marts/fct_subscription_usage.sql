{{ config(materialized='view') }}

-- Metered quantity per subscription, billing period (calendar month of the customer's time
-- zone: its daily rows are local days, docs/invoicing.md), metric and group,
-- over the part of the period inside the subscription's [start, end) window. Rows exist only
-- where the metric counted at least one event; for a time_weighted_sum, where the group had
-- an event before the window's end (its value is held until the next one). Percentiles and
-- time-weighted sums follow docs/invoicing.md.
with

daily as (
    select * from {{ ref('fct_metric_usage_daily') }}
),

customer_zones as (
    select customer_id, timezone as customer_timezone from {{ ref('stg_billing__customers') }}
),

subscriptions as (
    select
        subscriptions.*,
        customer_zones.customer_timezone as customer_timezone
    from {{ ref('stg_billing__subscriptions') }} as subscriptions
    inner join customer_zones on subscriptions.customer_id = customer_zones.customer_id
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
),

metrics as (
    select * from {{ ref('stg_billing__metrics') }}
),

counted as (
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
        greatest(period_start, any(subscriptions.start_date)) as window_start,
        least(addMonths(period_start, 1), ifNull(any(subscriptions.end_date), addMonths(period_start, 1))) as window_end,
        any(subscriptions.customer_timezone) as window_timezone,
        any(metrics.bucket_ms) as window_bucket_ms,
        -- Percentiles: every bucket of the window counts, an empty one as 0 (docs/invoicing.md).
        {{ daily_quantity('daily', nearest_rank(
            'arrayFlatten(groupArray(daily.bucket_sums))',
            'if(window_bucket_ms = 0, 0, ' ~ buckets_between('window_start', 'window_end', 'window_timezone', 'window_bucket_ms') ~ ')',
            'assumeNotNull(any(metrics.percentile))'
        )) }} as quantity
    from daily
    inner join subscriptions on daily.customer_id = subscriptions.customer_id
    left join metrics on daily.metric_code = metrics.metric_code
    where daily.usage_date >= subscriptions.start_date
        and (subscriptions.end_date is null or daily.usage_date < subscriptions.end_date)
        and daily.aggregation != 'time_weighted_sum'
        and {{ counted_under('subscriptions.subscription_id', 'daily.metric_code') }}
    group by
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.plan_code,
        subscriptions.plan_version,
        period_start,
        daily.metric_code,
        daily.group_value
),

-- Time-weighted sums (docs/invoicing.md): each day with events of the group, with the value
-- its previous such day left held (0 before the group's first event ever) and that day's end.
held_days as (
    select
        daily.customer_id as customer_id,
        metric_code,
        is_grouped,
        group_value,
        usage_date,
        toUnixTimestamp64Milli(first_timestamp) as first_ms,
        {{ day_start_ms('usage_date + 1', 'customer_zones.customer_timezone') }} as day_end_ms,
        held_value_ms,
        latest_value,
        lagInFrame(toDecimal256(latest_value, 12), 1, toDecimal256(0, 12)) over held_order as previous_value,
        lagInFrame(day_end_ms, 1, toInt64(0)) over held_order as previous_end_ms
    from daily
    inner join customer_zones on daily.customer_id = customer_zones.customer_id
    where aggregation = 'time_weighted_sum'
    window held_order as (
        partition by daily.customer_id, metric_code, group_value
        order by usage_date
        rows between unbounded preceding and current row
    )
),

-- Every period of a subscription's window from the group's first event on, to the window's
-- end or (open-ended) the current month: a value held counts without events in the period.
held_windows as (
    select
        subscriptions.subscription_id as subscription_id,
        subscriptions.customer_id as customer_id,
        subscriptions.plan_code as plan_code,
        subscriptions.plan_version as plan_version,
        groups.metric_code as metric_code,
        groups.is_grouped as is_grouped,
        groups.group_value as group_value,
        toStartOfMonth(greatest(subscriptions.start_date, groups.first_date)) as first_period,
        addMonths(first_period, month_index) as period_start,
        greatest(period_start, subscriptions.start_date) as window_start,
        least(
            addMonths(period_start, 1),
            ifNull(subscriptions.end_date, addMonths(period_start, 1))
        ) as window_end,
        {{ day_start_ms('window_start', 'subscriptions.customer_timezone') }} as window_start_ms,
        {{ day_start_ms('window_end', 'subscriptions.customer_timezone') }} as window_end_ms
    from (
        select
            customer_id,
            metric_code,
            any(is_grouped) as is_grouped,
            group_value,
            min(usage_date) as first_date,
            max(usage_date) as last_date
        from held_days
        group by customer_id, metric_code, group_value
    ) as groups
    inner join subscriptions on groups.customer_id = subscriptions.customer_id
    array join range(toUInt32(greatest(
        dateDiff(
            'month',
            toStartOfMonth(greatest(subscriptions.start_date, groups.first_date)),
            toStartOfMonth(ifNull(subscriptions.end_date - 1, greatest(today(), groups.last_date)))
        ) + 1,
        0
    ))) as month_index
    where window_start < window_end
        and {{ counted_under('subscriptions.subscription_id', 'groups.metric_code') }}
),

-- The window [A, B) integrated in value x milliseconds: each day with events inside it adds
-- its own integral and what the previous day left held from max(A, that day's end) to its
-- first event; the last day before B leaves its value held to B.
held as (
    select
        held_windows.subscription_id as subscription_id,
        any(held_windows.customer_id) as customer_id,
        any(held_windows.plan_code) as plan_code,
        any(held_windows.plan_version) as plan_version,
        held_windows.period_start as period_start,
        held_windows.metric_code as metric_code,
        any(held_windows.is_grouped) as is_grouped,
        held_windows.group_value as group_value,
        sumIf(
            held_days.held_value_ms
            + held_days.previous_value * (held_days.first_ms - greatest(held_windows.window_start_ms, held_days.previous_end_ms)),
            held_days.usage_date >= held_windows.window_start
        ) as inside_ms,
        argMax(toDecimal256(held_days.latest_value, 12), held_days.usage_date)
            * (held_windows.window_end_ms - greatest(held_windows.window_start_ms, max(held_days.day_end_ms))) as after_ms
    from held_windows
    inner join held_days
        on held_windows.customer_id = held_days.customer_id
        and held_windows.metric_code = held_days.metric_code
        and held_windows.group_value = held_days.group_value
    where held_days.usage_date < held_windows.window_end
    group by
        held_windows.subscription_id,
        held_windows.period_start,
        held_windows.metric_code,
        held_windows.group_value,
        held_windows.window_start,
        held_windows.window_start_ms,
        held_windows.window_end_ms
),

usage_rows as (
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
        quantity
    from counted

    union all

    select
        held.subscription_id as subscription_id,
        held.customer_id as customer_id,
        held.plan_code as plan_code,
        held.plan_version as plan_version,
        held.period_start as period_start,
        formatDateTime(held.period_start, '%Y-%m') as period,
        held.metric_code as metric_code,
        'time_weighted_sum' as aggregation,
        if(held.is_grouped, held.group_value, null) as group_value,
        -- Divided once, at the end: to 24 places (truncated), then rounded to the quantity's 12
        -- half away from zero; a tie at 12 places is exact at 24, so the rounding is exact.
        toDecimal128(
            round(
                toDecimal256(held.inside_ms + held.after_ms, 24)
                / if(metrics.unit = 'day', 86400000, 3600000),
                12
            ),
            12
        ) as quantity
    from held
    inner join metrics on held.metric_code = metrics.metric_code
)

select * from usage_rows
-- A customer's zone is a column (docs/invoicing.md, "Time zones").
settings allow_nonconst_timezone_arguments = 1
