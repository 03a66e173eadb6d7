with

source as (
    select * from {{ source('billing', 'catalog_metrics') }}
    where {{ catalog_in_force() }}
),

renamed as (
    select
        code as metric_code,
        event_name,
        aggregation,
        property,
        filters,
        group_by,
        unit
    from source
)

select * from renamed
