{{ config(materialized='view') }}

-- Per period and customer: what they were billed (invoices in force, void excluded, less
-- credit notes issued with the period) and how much they used (billable events metered
-- in the period), for the top customers by amount and by usage.
with

billed as (
    select
        period,
        customer_id,
        currency,
        status != 'draft' as is_final,
        total as amount
    from {{ ref('fct_invoices') }}
    where status != 'void'

    union all

    select period, customer_id, currency, status != 'draft' as is_final, -total as amount
    from {{ ref('fct_credit_notes') }}
),

revenue as (
    select
        period,
        customer_id,
        currency,
        if(min(is_final), 'final', 'provisional') as revenue_status,
        sum(amount) as revenue
    from billed
    group by period, customer_id, currency
),

used as (
    select
        formatDateTime(usage_date, '%Y-%m') as period,
        customer_id,
        sum(event_count) as events
    from {{ ref('fct_metric_usage_daily') }}
    group by period, customer_id
)

select
    revenue.period as period,
    revenue.customer_id as customer_id,
    revenue.currency as currency,
    revenue.revenue_status as revenue_status,
    revenue.revenue as revenue,
    used.events as events
from revenue
left join used on revenue.period = used.period and revenue.customer_id = used.customer_id
