with

source as (
    select * from {{ source('billing', 'credit_notes') }}
),

renamed as (
    select
        billing_run_id,
        period,
        credit_note_id,
        customer_id,
        adjusts_period,
        JSONExtractString(document, 'adjusts_invoice') as adjusts_invoice_id,
        currency,
        total,
        document
    from source
)

select * from renamed
