with

source as (
    select * from {{ source('billing', 'catalog_customers') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        customer_id,
        name as customer_name,
        -- The IANA zone of the customer's calendar (docs/invoicing.md, "Time zones").
        timezone
    from source
)

select * from renamed
