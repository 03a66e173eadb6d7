-- Per document, the latest state of its sync to a payment gateway and, for invoices, the
-- latest payment status the gateway reported (docs/gateways.md).
with

synced as (
    select
        document_id,
        argMax(gateway, recorded_at) as last_gateway,
        argMax(sync_state, recorded_at) as sync_state,
        max(recorded_at) as synced_at
    from {{ ref('stg_billing__gateway_documents') }}
    group by document_id
),

paid as (
    select
        invoice_id as document_id,
        argMax(payment_status, fetched_at) as payment_status
    from {{ ref('stg_billing__invoice_statuses') }}
    group by invoice_id
)

select
    synced.document_id as document_id,
    synced.last_gateway as gateway,
    synced.sync_state as sync_state,
    synced.synced_at as synced_at,
    nullIf(paid.payment_status, '') as payment_status
from synced
left join paid on synced.document_id = paid.document_id
