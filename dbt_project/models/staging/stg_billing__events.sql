with

source as (
    select * from {{ source('billing', 'raw_events') }}
    where load_seq in (select load_seq from {{ source('billing', 'event_loads') }})
),

renamed as (
    select
        event_date,
        customer_id,
        event_id,
        event_name,
        timestamp as event_timestamp,
        properties,
        replaces as replaces_event_id,
        corrects as corrects_event_id,
        void as is_void,
        load_seq,
        line_no
    from source
)

select * from renamed
