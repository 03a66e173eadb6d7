{{ config(materialized='view') }}

-- The credit notes in force: corrections, issued with a period's billing run in force, each
-- crediting the invoice of an earlier, finalized period whose corrected amount is lower; and
-- refunds of paid invoices, counted in the month they were issued.
with

corrections as (
    select
        notes.credit_note_id as credit_note_id,
        'correction' as kind,
        notes.customer_id as customer_id,
        notes.period as period,
        notes.adjusts_period as adjusts_period,
        notes.adjusts_invoice_id as adjusts_invoice_id,
        notes.currency as currency,
        multiIf(
            gateway.sync_state = 'synced', 'synced',
            runs.is_finalized, 'finalized',
            'draft'
        ) as status,
        notes.total as total,
        notes.billing_run_id as billing_run_id
    from {{ ref('stg_billing__credit_notes') }} as notes
    inner join {{ ref('int_billing_runs__in_force') }} as runs
        on notes.billing_run_id = runs.billing_run_id
    left join {{ ref('int_documents__gateway_state') }} as gateway
        on notes.credit_note_id = gateway.document_id
),

refunds as (
    select
        refunds.refund_id as credit_note_id,
        'refund' as kind,
        refunds.customer_id as customer_id,
        formatDateTime(refunds.issued_at, '%Y-%m') as period,
        refunds.invoice_period as adjusts_period,
        refunds.invoice_id as adjusts_invoice_id,
        refunds.currency as currency,
        if(gateway.sync_state = 'synced', 'synced', 'finalized') as status,
        refunds.amount as total,
        '' as billing_run_id
    from {{ ref('stg_billing__refunds') }} as refunds
    left join {{ ref('int_documents__gateway_state') }} as gateway
        on refunds.refund_id = gateway.document_id
)

select * from corrections
union all
select * from refunds
