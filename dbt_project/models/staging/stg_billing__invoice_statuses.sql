with

source as (
    select * from {{ source('billing', 'invoice_statuses') }}
),

renamed as (
    select
        gateway,
        document_id as invoice_id,
        period,
        status as payment_status,
        fetched_at
    from source
)

select * from renamed
