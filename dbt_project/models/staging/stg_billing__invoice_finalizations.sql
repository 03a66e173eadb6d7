with

source as (
    select * from {{ source('billing', 'invoice_finalizations') }}
),

renamed as (
    select
        period,
        billing_run_id,
        finalized_at
    from source
)

select * from renamed
