"""Re-meter the days that loads changed, then re-bill the periods they belong to.

Late events, corrections and files that fill a gap all arrive as loads; the plan
(billing_dagster/defs/backfill.py) turns the warehouse's ledgers into exactly the runs
needed, and the cursor keeps each from being requested twice. Billing is requested on a
later tick than the metering it depends on, once that metering has run.
"""

from datetime import UTC, datetime

import dagster as dg

from billing_dagster.defs.backfill import BackfillCursor, MeteringRequest, plan_backfill
from billing_dagster.defs.jobs import billing_job, metering_job
from billing_dagster.defs.metering.runs import metering_range_tags
from billing_dagster.defs.resources import ClickHouseResource


@dg.sensor(
    jobs=[metering_job, billing_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def late_data_backfill(context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource):
    runs, cursor = plan_backfill(
        clickhouse.get_client(),
        clickhouse.database,
        BackfillCursor.parse(context.cursor),
        datetime.now(UTC).date(),
    )
    requests = [
        dg.RunRequest(
            run_key=run.run_key,
            job_name=metering_job.name,
            tags=metering_range_tags(run.first.isoformat(), run.last.isoformat()),
        )
        if isinstance(run, MeteringRequest)
        else dg.RunRequest(
            run_key=run.run_key, job_name=billing_job.name, partition_key=f"{run.period}-01"
        )
        for run in runs
    ]
    return dg.SensorResult(run_requests=requests, cursor=cursor.text())
