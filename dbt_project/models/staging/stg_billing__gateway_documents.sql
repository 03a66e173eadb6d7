with

source as (
    select * from {{ source('billing', 'gateway_sync_documents') }}
),

renamed as (
    select
        gateway,
        document_kind,
        document_id,
        period,
        gateway_document_id,
        state as sync_state,
        recorded_at
    from source
)

select * from renamed
