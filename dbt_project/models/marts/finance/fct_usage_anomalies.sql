{{ config(materialized='view') }}

-- Usage spikes: a customer's day of a metric whose billable events exceed
-- `spike_factor` × the median of the `spike_baseline_days` days before it (days without
-- usage count as 0), and at least `spike_min_events`. The `usage_spikes` asset check of the
-- metering run and the finance anomalies report both read this view. Candidates come first
-- (the days at or above the floor, few), so it reads the daily table only twice.
with

daily as (
    select usage_date, customer_id, metric_code, sum(event_count) as events
    from {{ ref('fct_metric_usage_daily') }}
    group by usage_date, customer_id, metric_code
),

candidates as (
    select * from daily
    where events >= {{ var('spike_min_events') }}
),

earlier as (
    select * from daily
    where (customer_id, metric_code) in (select customer_id, metric_code from candidates)
)

select
    candidates.usage_date as usage_date,
    candidates.customer_id as customer_id,
    candidates.metric_code as metric_code,
    candidates.events as events,
    arraySort(arrayResize(groupArray(earlier.events), {{ var('spike_baseline_days') }}, 0))
        [{{ var('spike_baseline_days') // 2 + 1 }}] as baseline
from candidates
inner join earlier
    on candidates.customer_id = earlier.customer_id
    and candidates.metric_code = earlier.metric_code
where earlier.usage_date >= candidates.usage_date - {{ var('spike_baseline_days') }}
    and earlier.usage_date < candidates.usage_date
group by usage_date, customer_id, metric_code, events
having baseline > 0 and events > {{ var('spike_factor') }} * baseline
