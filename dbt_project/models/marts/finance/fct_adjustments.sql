{{ config(materialized='view') }}

-- Every correction of a finalized period, as billed: an adjustment line on an invoice of
-- the carrying period (a positive amount) or a credit note (a negative amount).
select
    customer_id,
    period,
    assumeNotNull(code) as adjusted_period,
    currency,
    'adjustment_line' as document_kind,
    invoice_id as document_id,
    invoice_status as status,
    amount
from {{ ref('fct_invoice_lines') }}
where line_kind = 'adjustment'

union all

select
    customer_id,
    period,
    adjusts_period as adjusted_period,
    currency,
    'credit_note' as document_kind,
    credit_note_id as document_id,
    status,
    -total as amount
from {{ ref('fct_credit_notes') }}
where kind = 'correction'  -- a refund returns a payment; it corrects no data
