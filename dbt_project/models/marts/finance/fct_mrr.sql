{{ config(materialized='view') }}

-- Monthly recurring revenue per customer, currency and month, with its movement from the
-- month before. A subscription active on the month's last day commits to its fixed fees
-- (the subscription's overrides applied) or its minimum commitment, whichever is higher:
-- the minimum covers fixed fees and usage alike (CONTRACT.md §3). Usage above them is not
-- recurring and does not count. Run-rate at list price: not prorated, before discounts
-- and tax. Months run from the first subscription's to the current one, per the catalog
-- in force.
with

-- Each plan version's fixed fees and minimum, parsed once per version (a handful), not
-- once per subscription.
versions as (
    select
        plan_code,
        plan_version,
        currency,
        arrayMap(
            fee -> (JSONExtractString(fee, 'code'), toDecimal128(JSONExtractString(fee, 'amount'), 20)),
            JSONExtractArrayRaw(content_json, 'fixed_fees')
        ) as fixed_fees,
        toDecimal128(coalesce(nullIf(JSONExtractString(content_json, 'minimum_amount'), ''), '0'), 20)
            as minimum_amount
    from {{ ref('stg_billing__plan_versions') }}
),

-- Each subscription's commitment: its fixed fees with its overrides, or its minimum.
subscriptions as (
    select
        subscriptions.subscription_id as subscription_id,
        subscriptions.customer_id as customer_id,
        subscriptions.start_date as start_date,
        subscriptions.end_date as end_date,
        versions.currency as currency,
        JSONExtractRaw(subscriptions.content_json, 'overrides') as overrides,
        arraySum(arrayMap(
            fee -> if(
                JSONHas(overrides, 'fixed_fees', fee.1),
                toDecimal128(JSONExtractString(overrides, 'fixed_fees', fee.1), 20),
                fee.2
            ),
            versions.fixed_fees
        )) as fixed_fee_total,
        if(
            JSONExtractString(overrides, 'minimum_amount') = '',
            versions.minimum_amount,
            toDecimal128(JSONExtractString(overrides, 'minimum_amount'), 20)
        ) as minimum_commitment
    from {{ ref('stg_billing__subscriptions') }} as subscriptions
    inner join versions
        on subscriptions.plan_code = versions.plan_code
        and subscriptions.plan_version = versions.plan_version
),

months as (
    select arrayJoin(arrayMap(
        n -> addMonths(first_month, n),
        range(toUInt32(dateDiff('month', first_month, last_month)) + 1)
    )) as month_start
    from (
        select
            toStartOfMonth(min(start_date)) as first_month,
            greatest(toStartOfMonth(today()), toStartOfMonth(max(start_date))) as last_month
        from subscriptions
    )
),

customer_months as (
    select
        months.month_start as month_start,
        subscriptions.customer_id as customer_id,
        subscriptions.currency as currency,
        sumIf(
            greatest(subscriptions.fixed_fee_total, subscriptions.minimum_commitment),
            subscriptions.start_date <= toLastDayOfMonth(months.month_start)
            and (subscriptions.end_date is null
                 or subscriptions.end_date > toLastDayOfMonth(months.month_start))
        ) as mrr
    from months
    cross join subscriptions
    group by month_start, customer_id, currency
),

movements as (
    select
        month_start,
        customer_id,
        currency,
        mrr,
        lagInFrame(mrr, 1, toDecimal128(0, 20)) over (
            partition by customer_id, currency order by month_start
            rows between 1 preceding and current row
        ) as previous_mrr
    from customer_months
)

select
    formatDateTime(month_start, '%Y-%m') as period,
    customer_id,
    currency,
    mrr,
    previous_mrr,
    mrr - previous_mrr as change,
    multiIf(
        previous_mrr = 0, 'new',
        mrr = 0, 'churn',
        mrr > previous_mrr, 'expansion',
        mrr < previous_mrr, 'contraction',
        'unchanged'
    ) as movement
from movements
where mrr != 0 or previous_mrr != 0
