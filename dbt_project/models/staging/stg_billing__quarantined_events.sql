with

source as (
    select * from {{ source('billing', 'quarantined_events') }}
),

renamed as (
    select
        load_seq,
        file_name,
        line_no,
        reason,
        quarantined_at,
        toDate(quarantined_at) as quarantined_date
    from source
)

select * from renamed
