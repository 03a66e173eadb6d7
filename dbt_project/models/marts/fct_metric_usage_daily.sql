{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        engine='MergeTree()',
        partition_by='toYYYYMM(usage_date)',
        order_by='(usage_date, customer_id, metric_code, group_value)',
        pre_hook="{{ delete_metering_window('usage_date') }}",
        on_schema_change='fail',
        query_settings={
            'max_bytes_before_external_group_by': 400 * 1024 * 1024,
            'max_insert_block_size': 128 * 1024,
            'min_insert_block_size_rows': 128 * 1024,
        },
    )
}}

-- Usage per customer, metric, group and day. Each column combines exactly across days, so
-- a period's quantity never rescans raw events: counts and sums add, maxima take the max,
-- `latest` keeps its event's (timestamp, event_id) to compare, and distinct values are kept
-- as an exact uniqExact state that merges without double counting.
-- Days are the customer's local days (docs/invoicing.md, "Time zones").
-- A time_weighted_sum keeps its day's first event time, its latest value (as `latest`) and
-- `held_value_ms`: the integral of the value from the day's first event to the day's end,
-- in value x milliseconds, exact (76 digits: a value of 26 digits held a month fits). What was held before the first event comes from earlier
-- days, at period level (fct_subscription_usage), so a day's row depends on its events only
-- and re-metering a late event's day is enough. A percentile keeps the sums of the day's
-- non-empty buckets (their order does not matter: the period sorts them).
-- The latest value and the distinct-value state are kept only for the metrics whose
-- aggregation reads them (the others leave defaults): a state of every token count of a
-- `sum` metric would double the cost of metering for nothing. They come from arrays of the
-- day's points and values, not from `argMaxIf` and `uniqExactStateIf`: an `-If` state is
-- allocated for every group even where its condition never holds (a `uniqExact` set starts at
-- about 280 bytes), which was 1.1 GB of a 10 M-event month's 2.9 M groups. Without those,
-- the aggregation spills to disk past 400 MiB at little cost (set here too, for a warehouse
-- that is not the embedded one), and inserting blocks of 128 Ki rows (not the session's
-- 512 Ki: squashing aggregated rows into blocks held most of the rest) meters that month in
-- 1.3 GiB instead of 4.5 GiB, in the same time (docs/benchmarks.md).
with

metric_events as (
    select
        *,
        aggregation as metric_aggregation
    from {{ ref('int_metric_events') }}
    -- The window of this run (Dagster's partitions): the pre-hook emptied exactly these
    -- days, local days of the customers; their events lie on the UTC days one either side.
    where {{ metering_window('event_date') }}
        and {{ metering_window('utc_event_date', widen_days=1) }}
),

daily as (
    select
        event_date as usage_date,
        customer_id,
        any(customer_timezone) as day_timezone,
        metric_code,
        any(metric_aggregation) as aggregation,
        any(is_grouped) as is_grouped,
        group_value,
        count() as event_count,
        sum(value) as value_sum,
        max(value) as value_max,
        max(event_timestamp) as latest_timestamp,
        groupArrayIf(value_text, metric_aggregation = 'count_unique') as counted_values,
        minIf(event_timestamp, metric_aggregation = 'time_weighted_sum') as first_timestamp,
        -- (time in ms, event_id, value) in event order, ties on time by event_id: the last
        -- one is the latest value.
        arraySort(groupArrayIf(
            (toUnixTimestamp64Milli(event_timestamp), event_id, value),
            metric_aggregation in ('latest', 'time_weighted_sum')
        )) as held_points,
        -- (time in ms, value) of a percentile's events, bucketed below once the day's start
        -- is known: working out a local midnight per event was most of a zoned month's cost.
        groupArrayIf(
            (toUnixTimestamp64Milli(event_timestamp), value),
            metric_aggregation = 'percentile'
        ) as percentile_points,
        any(bucket_ms) as bucket_ms
    from metric_events
    group by usage_date, customer_id, metric_code, group_value
),

-- The local day's bounds, once per row of `daily` and only for the aggregations that use
-- them: in a zone each takes several conversions through text.
daily_bounds as (
    select
        *,
        if(aggregation = 'percentile', {{ day_start_ms('usage_date', 'day_timezone') }}, 0) as day_start_ms,
        if(aggregation = 'time_weighted_sum', {{ day_start_ms('usage_date + 1', 'day_timezone') }}, 0) as day_end_ms
    from daily
)

select
    usage_date,
    customer_id,
    metric_code,
    aggregation,
    is_grouped,
    group_value,
    event_count,
    value_sum,
    value_max,
    held_points[-1].3 as latest_value,
    latest_timestamp,
    held_points[-1].2 as latest_event_id,
    arrayReduce('uniqExactState', counted_values) as distinct_values,
    first_timestamp,
    -- Each value holds until the next event of the day, the last one until the day's end.
    toDecimal256(if(aggregation != 'time_weighted_sum', 0, arraySum(arrayMap(
        (point, i) -> toDecimal256(point.3, 12) * (
            if(i < length(held_points), held_points[i + 1].1, day_end_ms) - point.1
        ),
        held_points,
        arrayEnumerate(held_points)
    ))), 12) as held_value_ms,
    -- The sums of the day's non-empty buckets, by bucket as sumMap leaves them.
    arrayMap(
        bucket_sum -> toDecimal128(bucket_sum, 12),
        arrayReduce(
            'sumMap',
            arrayMap(point -> [{{ bucket_of('point.1', 'day_start_ms', 'greatest(bucket_ms, 1)') }}], percentile_points),
            arrayMap(point -> [point.2], percentile_points)
        ).2
    ) as bucket_sums
from daily_bounds
