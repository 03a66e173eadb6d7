-- The billing run in force for each billed period: the finalized one once the period is
-- finalized, else the latest draft run (a run that died midway has no billing_runs row).
with

latest as (
    select
        period,
        argMax(billing_run_id, created_at) as latest_run_id
    from {{ ref('stg_billing__billing_runs') }}
    group by period
),

finalized as (
    select
        period,
        any(billing_run_id) as finalized_run_id,
        min(finalized_at) as finalized_at
    from {{ ref('stg_billing__invoice_finalizations') }}
    group by period
)

select
    latest.period as period,
    if(finalized.period = '', latest.latest_run_id, finalized.finalized_run_id) as billing_run_id,
    finalized.period != '' as is_finalized,
    if(finalized.period = '', null, finalized.finalized_at) as finalized_at
from latest
left join finalized on latest.period = finalized.period
