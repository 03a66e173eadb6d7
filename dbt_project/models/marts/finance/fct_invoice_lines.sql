{{ config(materialized='view') }}

-- The lines of the invoices in force, with the customer, currency and status of their
-- invoice: sum `amount` per currency, over invoices whose status is not `void`. `group_value`
-- is null on lines without a group (fixed fees, ungrouped usage, tax, credits...). The
-- lines of interim invoices are here too (threshold invoicing).
with

lines as (
    select * from {{ ref('stg_billing__invoice_lines') }}
    union all
    select * from {{ ref('stg_billing__interim_invoice_lines') }}
)

select
    lines.invoice_id as invoice_id,
    lines.line_no as line_no,
    invoices.customer_id as customer_id,
    lines.period as period,
    invoices.currency as currency,
    invoices.status as invoice_status,
    lines.line_kind as line_kind,
    lines.code as code,
    lines.group_value as group_value,
    lines.plan_code as plan_code,
    lines.plan_version as plan_version,
    lines.subscription_id as subscription_id,
    lines.quantity as quantity,
    lines.amount as amount
from lines
inner join {{ ref('fct_invoices') }} as invoices
    on lines.billing_run_id = invoices.billing_run_id and lines.invoice_id = invoices.invoice_id
