with

source as (
    select * from {{ source('billing', 'invoices') }}
),

renamed as (
    select
        billing_run_id,
        period,
        invoice_id,
        customer_id,
        currency,
        charges,
        subtotal,
        discount,
        tax,
        credits_applied,
        -- Corrections of finalized periods this invoice carries (docs/invoicing.md).
        toDecimal128(JSONExtractString(document, 'adjustments'), 4) as adjustments,
        total,
        catalog_version,
        document
    from source
)

select * from renamed
