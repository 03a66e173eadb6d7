{{ config(materialized='view') }}

-- The credit notes in force: issued with a period's billing run in force, each crediting the
-- invoice of an earlier, finalized period whose corrected amount is lower.
select
    notes.credit_note_id as credit_note_id,
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
