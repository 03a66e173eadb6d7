-- The lines of the interim invoices, from their JSON documents (their amounts are decimal
-- text there, exact).
with

lines as (
    select
        billing_run_id,
        period,
        invoice_id,
        line_no,
        line
    from {{ ref('stg_billing__interim_invoices') }}
    array join
        JSONExtractArrayRaw(document, 'lines') as line,
        arrayEnumerate(JSONExtractArrayRaw(document, 'lines')) as line_no
)

select
    billing_run_id,
    period,
    invoice_id,
    toUInt16(line_no) as line_no,
    JSONExtractString(line, 'kind') as line_kind,
    JSONExtract(line, 'code', 'Nullable(String)') as code,
    JSONExtract(line, 'group', 'Nullable(String)') as group_value,
    JSONExtract(line, 'plan', 'Nullable(String)') as plan_code,
    JSONExtract(line, 'plan_version', 'Nullable(UInt32)') as plan_version,
    JSONExtract(line, 'subscription_id', 'Nullable(String)') as subscription_id,
    toDecimal128OrNull(JSONExtractString(line, 'quantity'), 12) as quantity,
    toDecimal128(JSONExtractString(line, 'amount'), 4) as amount
from lines
