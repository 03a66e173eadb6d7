{{ config(materialized='view') }}

-- Usage spikes: a customer's day of a metric whose billable events exceed
-- `spike_factor` × the median of the `spike_baseline_days` days before it (days without
-- usage count as 0), and at least `spike_min_events`. The `usage_spikes` asset check of the
-- metering run and the finance anomalies report both read this view. Candidates come first
-- (the days at or above the floor, few): the days before are added up for their customers
-- and metrics only.
with

candidates as (
    select usage_date, customer_id, metric_code, sum(event_count) as events
    from {{ ref('fct_metric_usage_daily') }}
    group by usage_date, customer_id, metric_code
    having events >= {{ var('spike_min_events') }}
),

-- The days of the candidates' customers and metrics only, filtered before they are added up.
earlier as (
    select usage_date, customer_id, metric_code, sum(event_count) as events
    from {{ ref('fct_metric_usage_daily') }}
    where (customer_id, metric_code) in (select customer_id, metric_code from candidates)
    group by usage_date, customer_id, metric_code
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
