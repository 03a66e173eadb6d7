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
        unit,
        percentile,
        -- A percentile's bucket ("5m", "1h") in milliseconds; 0 for the other aggregations.
        if(
            bucket is null,
            toUInt32(0),
            toUInt32(extract(assumeNotNull(bucket), '^[0-9]+')) * if(endsWith(assumeNotNull(bucket), 'h'), 3600000, 60000)
        ) as bucket_ms
    from source
)

select * from renamed
