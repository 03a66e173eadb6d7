with

source as (
    select * from {{ source('billing', 'refunds') }}
),

-- One row per refund: a refund asked twice is stored once, but a row written twice by a
-- retried insert must not count twice.
deduplicated as (
    select
        refund_id,
        any(invoice_id) as invoice_id,
        any(customer_id) as customer_id,
        any(period) as invoice_period,
        any(currency) as currency,
        any(amount) as amount,
        any(refund_to) as refund_to,
        any(reason) as reason,
        min(issued_at) as issued_at
    from source
    group by refund_id
)

select * from deduplicated
