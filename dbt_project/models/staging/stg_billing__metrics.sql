with

source as (
    select * from {{ source('billing', 'catalog_metrics') }}
    where catalog_version = (select max(catalog_version) from {{ source('billing', 'catalog_versions') }})
),

renamed as (
    select
        code as metric_code,
        event_name,
        aggregation,
        property,
        filters,
        group_by
    from source
)

select * from renamed
