-- Per disputed invoice, the mark its disputes put on it: `lost` when any was lost, else
-- `opened` while any is open, else `won`. A mark beside the finalized invoice, which never
-- changes (docs/gateways.md, Disputes).
with

latest as (
    select
        invoice_id,
        argMax(dispute_status, observed_at) as latest_status,
        argMax(amount, observed_at) as latest_amount
    from {{ ref('stg_billing__disputes') }}
    group by gateway, dispute_id, invoice_id
)

select
    invoice_id,
    multiIf(
        countIf(latest_status = 'lost') > 0, 'lost',
        countIf(latest_status = 'opened') > 0, 'opened',
        'won'
    ) as dispute_status,
    count() as disputes,
    sumIf(latest_amount, latest_status = 'lost') as amount_lost
from latest
group by invoice_id
