{{ config(materialized='view') }}

-- Lines quarantined per day and reason: what the loads refused, for the health report.
select
    quarantined_date,
    reason,
    count() as lines,
    uniqExact(load_seq, file_name) as files
from {{ ref('stg_billing__quarantined_events') }}
group by quarantined_date, reason
