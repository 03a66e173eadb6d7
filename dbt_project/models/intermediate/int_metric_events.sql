-- Each effective event under each metric that counts it: event name matches, every filter
-- holds, and the properties the aggregation needs are present (and numeric for sum, max,
-- latest, time_weighted_sum and percentile). Values compare as text; numbers become exact decimals, never floats.
-- `event_date` is the day on the customer's calendar (its time zone, docs/invoicing.md);
-- `utc_event_date`, the stored UTC day, prunes the scan (they differ by at most one day).
with

-- Only customers off UTC: the others keep the stored UTC date.
zoned_customers as (
    select customer_id, timezone from {{ ref('stg_billing__customers') }}
    where timezone != 'UTC'
),

-- The local date once per event, before an event meets each metric that counts it.
events as (
    select
        effective.*,
        if(zoned_customers.timezone = '', 'UTC', zoned_customers.timezone) as customer_timezone,
        {{ local_date('effective.event_timestamp', 'customer_timezone') }} as local_event_date
    from {{ ref('int_events__effective') }} as effective
    left join zoned_customers on effective.customer_id = zoned_customers.customer_id
),

metrics as (
    select * from {{ ref('stg_billing__metrics') }}
),

matched as (
    select
        events.event_date as utc_event_date,
        events.customer_timezone as customer_timezone,
        events.local_event_date as event_date,
        events.customer_id as customer_id,
        events.event_id,
        events.event_timestamp,
        metrics.metric_code,
        metrics.aggregation,
        metrics.bucket_ms,
        metrics.group_by is not null as is_grouped,
        if(metrics.group_by is null, '', events.properties[assumeNotNull(metrics.group_by)]) as group_value,
        metrics.group_by is null or mapContains(events.properties, assumeNotNull(metrics.group_by)) as has_group,
        events.properties[ifNull(metrics.property, '')] as value_text,
        metrics.property is null or mapContains(events.properties, assumeNotNull(metrics.property)) as has_value,
        arrayAll(
            (name, accepted) -> mapContains(events.properties, name) and has(accepted, events.properties[name]),
            mapKeys(metrics.filters),
            mapValues(metrics.filters)
        ) as passes_filters
    from events
    inner join metrics on events.event_name = metrics.event_name
)

select
    utc_event_date,
    event_date,
    customer_timezone,
    customer_id,
    event_id,
    event_timestamp,
    metric_code,
    aggregation,
    bucket_ms,
    is_grouped,
    group_value,
    value_text,
    if(aggregation in ('sum', 'max', 'latest', 'time_weighted_sum', 'percentile'), toDecimal128(value_text, 12), toDecimal128(0, 12)) as value
from matched
where passes_filters
    and has_group
    and has_value
    and (aggregation not in ('sum', 'max', 'latest', 'time_weighted_sum', 'percentile') or match(value_text, '{{ decimal_pattern() }}'))
-- A customer's zone is a column (docs/invoicing.md, "Time zones").
settings allow_nonconst_timezone_arguments = 1
