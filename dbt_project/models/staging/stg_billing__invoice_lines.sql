with

source as (
    select * from {{ source('billing', 'invoice_lines') }}
),

renamed as (
    select
        billing_run_id,
        period,
        invoice_id,
        line_no,
        kind as line_kind,
        code,
        group_value,
        plan as plan_code,
        plan_version,
        subscription_id,
        quantity,
        amount
    from source
)

select * from renamed
