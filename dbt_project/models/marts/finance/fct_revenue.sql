{{ config(materialized='view') }}

-- Revenue per period, currency and plan: what the invoices in force billed (void ones
-- excluded), less the credit notes issued with the period. Per period and currency it sums
-- to Σ invoice totals − Σ credit notes, to the cent. `revenue_status` is `provisional` for
-- documents of a draft run (they may still change), `final` once the period is finalized.
--
-- Fixed fees, usage, minimums and discounts belong to the plan of their subscription. Tax,
-- credits applied and adjustments belong to the invoice, so to its plan when it has one
-- plan (else '(several plans)'); a credit note belongs to the plan of the invoice it credits.
with

-- Each line with its invoice's plan: the one plan of its lines, '(several plans)', or
-- null when none of its lines has a plan.
lines as (
    select
        *,
        multiIf(
            uniqExact(plan_code) over (partition by invoice_id) = 1,
            any(plan_code) over (partition by invoice_id),
            uniqExact(plan_code) over (partition by invoice_id) = 0,
            null,
            '(several plans)'
        ) as invoice_plan
    from {{ ref('fct_invoice_lines') }}
),

-- The plan of each invoice a credit note credits (few: read from the lines of those
-- invoices only, in their runs in force).
credited_plans as (
    select
        lines.invoice_id as invoice_id,
        if(uniqExact(lines.plan_code) = 1, any(lines.plan_code), '(several plans)') as credited_plan
    from {{ ref('stg_billing__invoice_lines') }} as lines
    inner join {{ ref('int_billing_runs__in_force') }} as runs
        on lines.billing_run_id = runs.billing_run_id
    where lines.plan_code is not null
        and lines.invoice_id in (select adjusts_invoice_id from {{ ref('fct_credit_notes') }})
    group by lines.invoice_id
),

documents as (
    select
        period,
        currency,
        coalesce(lines.plan_code, lines.invoice_plan, '(no plan)') as plan_code,
        if(invoice_status = 'draft', 'provisional', 'final') as revenue_status,
        invoice_id as document_id,
        customer_id,
        -- The usage and discounts of interim invoices (threshold invoicing) are deducted
        -- again by the period's invoice (`interim_invoiced` lines of code `usage` and
        -- `discount`): counted as such, each counts once.
        if(line_kind = 'interim_invoiced', code, line_kind) as line_kind,
        amount
    from lines
    where invoice_status != 'void'

    union all

    select
        notes.period as period,
        notes.currency as currency,
        coalesce(nullIf(credited_plans.credited_plan, ''), '(no plan)') as plan_code,
        if(notes.status = 'draft', 'provisional', 'final') as revenue_status,
        notes.credit_note_id as document_id,
        notes.customer_id as customer_id,
        'credit_note' as line_kind,
        -notes.total as amount
    from {{ ref('fct_credit_notes') }} as notes
    left join credited_plans on notes.adjusts_invoice_id = credited_plans.invoice_id
)

select
    period,
    currency,
    plan_code,
    revenue_status,
    uniqExactIf(document_id, line_kind != 'credit_note') as invoices,
    uniqExact(customer_id) as customers,
    sumIf(amount, line_kind = 'fixed_fee') as fixed_fees,
    sumIf(amount, line_kind = 'usage') as usage,
    sumIf(amount, line_kind = 'minimum_commitment') as minimum_commitments,
    sumIf(amount, line_kind = 'discount') as discounts,
    sumIf(amount, line_kind = 'tax') as tax,
    sumIf(amount, line_kind = 'credit') as credits_applied,
    sumIf(amount, line_kind = 'adjustment') as adjustments,
    sumIf(amount, line_kind = 'credit_note') as credit_notes,
    sum(amount) as revenue
from documents
group by period, currency, plan_code, revenue_status
