with

source as (
    select * from {{ source('billing', 'disputes') }}
),

renamed as (
    select
        gateway,
        dispute_id,
        invoice_id,
        period,
        customer_id,
        amount,
        currency,
        reason,
        status as dispute_status,
        gateway_status,
        opened_at,
        observed_at
    from source
)

select * from renamed
