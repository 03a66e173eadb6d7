with

source as (
    select * from {{ source('billing', 'invoice_voids') }}
),

renamed as (
    select
        invoice_id,
        period,
        reason as void_reason,
        voided_at
    from source
)

select * from renamed
