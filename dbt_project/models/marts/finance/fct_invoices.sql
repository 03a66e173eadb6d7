{{ config(materialized='view') }}

-- The invoices in force, one row per invoice: those of each period's billing run in force
-- (its finalized run, else its latest draft), with the status finance reads. A void invoice
-- stays here with status `void`; sum `total` over the other statuses for what was billed.
-- A disputed invoice keeps its status; `dispute_status` marks it (opened, won, lost).
-- Interim invoices (threshold invoicing) are here too, finalized when issued, with an empty
-- billing_run_id: the period's invoice deducts them, so the totals still sum to what was
-- billed.
with

runs as (
    select * from {{ ref('int_billing_runs__in_force') }}
),

invoices as (
    select
        invoices.*,
        runs.is_finalized as is_finalized,
        runs.finalized_at as finalized_at
    from {{ ref('stg_billing__invoices') }} as invoices
    inner join runs on invoices.billing_run_id = runs.billing_run_id

    union all

    select
        * except (issued_at),
        true as is_finalized,
        issued_at as finalized_at
    from {{ ref('stg_billing__interim_invoices') }}
),

voids as (
    select invoice_id, min(voided_at) as voided_at, any(void_reason) as void_reason
    from {{ ref('stg_billing__invoice_voids') }}
    group by invoice_id
)

select
    invoices.invoice_id as invoice_id,
    invoices.customer_id as customer_id,
    invoices.period as period,
    invoices.currency as currency,
    multiIf(
        voids.invoice_id != '', 'void',
        gateway.payment_status = 'paid', 'paid',
        gateway.sync_state = 'synced', 'synced',
        invoices.is_finalized, 'finalized',
        'draft'
    ) as status,
    invoices.charges as charges,
    invoices.subtotal as subtotal,
    invoices.discount as discount,
    invoices.tax as tax,
    invoices.credits_applied as credits_applied,
    invoices.adjustments as adjustments,
    invoices.total as total,
    invoices.catalog_version as catalog_version,
    invoices.billing_run_id as billing_run_id,
    invoices.finalized_at as finalized_at,
    if(voids.invoice_id = '', null, voids.voided_at) as voided_at,
    nullIf(voids.void_reason, '') as void_reason,
    nullIf(gateway.gateway, '') as gateway,
    nullIf(gateway.sync_state, '') as sync_state,
    gateway.payment_status as payment_status,
    nullIf(disputed.dispute_status, '') as dispute_status
from invoices
left join voids on invoices.invoice_id = voids.invoice_id
left join {{ ref('int_documents__gateway_state') }} as gateway
    on invoices.invoice_id = gateway.document_id
left join {{ ref('int_invoices__disputes') }} as disputed
    on invoices.invoice_id = disputed.invoice_id
