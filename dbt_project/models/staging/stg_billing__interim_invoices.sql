with

source as (
    select * from {{ source('billing', 'interim_invoices') }}
    order by issued_at
    limit 1 by invoice_id
),

renamed as (
    select
        '' as billing_run_id,
        period,
        invoice_id,
        customer_id,
        currency,
        toDecimal128(JSONExtractString(document, 'charges'), 4) as charges,
        toDecimal128(JSONExtractString(document, 'subtotal'), 4) as subtotal,
        toDecimal128(JSONExtractString(document, 'discount'), 4) as discount,
        toDecimal128(JSONExtractString(document, 'tax'), 4) as tax,
        toDecimal128(JSONExtractString(document, 'credits_applied'), 4) as credits_applied,
        toDecimal128(JSONExtractString(document, 'adjustments'), 4) as adjustments,
        total,
        catalog_version,
        document,
        issued_at
    from source
)

select * from renamed
