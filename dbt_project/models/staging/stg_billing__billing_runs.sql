with

source as (
    select * from {{ source('billing', 'billing_runs') }}
),

renamed as (
    select
        billing_run_id,
        period,
        catalog_version,
        invoices as invoice_count,
        created_at,
        max_load_seq
    from source
)

select * from renamed
