{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        engine='MergeTree()',
        partition_by='toYYYYMM(usage_date)',
        order_by='(usage_date, customer_id, metric_code, group_value)',
        pre_hook="{{ delete_metering_window('usage_date') }}",
        on_schema_change='fail',
    )
}}

-- Usage per customer, metric, group and day. Each column combines exactly across days, so
-- a period's quantity never rescans raw events: counts and sums add, maxima take the max,
-- `latest` keeps its event's (timestamp, event_id) to compare, and distinct values are kept
-- as an exact uniqExact state that merges without double counting.
-- The latest value and the distinct-value state are kept only for the metrics whose
-- aggregation reads them (the others leave defaults): a state of every token count of a
-- `sum` metric would double the cost of metering for nothing.
with

metric_events as (
    select
        *,
        aggregation as metric_aggregation
    from {{ ref('int_metric_events') }}
    -- The window of this run (Dagster's partitions): the pre-hook emptied exactly these days.
    where {{ metering_window('event_date') }}
)

select
    event_date as usage_date,
    customer_id,
    metric_code,
    any(metric_aggregation) as aggregation,
    any(is_grouped) as is_grouped,
    group_value,
    count() as event_count,
    sum(value) as value_sum,
    max(value) as value_max,
    argMaxIf(value, (event_timestamp, event_id), metric_aggregation = 'latest') as latest_value,
    max(event_timestamp) as latest_timestamp,
    argMaxIf(event_id, (event_timestamp, event_id), metric_aggregation = 'latest') as latest_event_id,
    uniqExactStateIf(value_text, metric_aggregation = 'count_unique') as distinct_values
from metric_events
group by usage_date, customer_id, metric_code, group_value
