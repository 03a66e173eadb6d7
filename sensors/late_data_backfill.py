"""Re-meter the days that loads or a metric change made stale, then re-bill the periods
they belong to.

Late events, corrections and files that fill a gap all arrive as loads; the plan
(billing_dagster/metering/backfill.py, the same one every CLI command asks) turns the
warehouse's ledgers into exactly the runs needed, and the cursor keeps each from being
requested twice. Billing is requested on a later tick than the metering it depends on, once
that metering has run. Nothing is metered with views of another version of the dbt project:
the sensor waits for `models_deployment` to deploy this one.
"""

from datetime import UTC, datetime

import dagster as dg

from billing_dagster.defs.invoicing.jobs import billing_job
from billing_dagster.defs.metering.jobs import metering_job
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.metering.backfill import BackfillCursor, MeteringRequest, plan_backfill
from billing_dagster.metering.dbt_project import models_deployed
from billing_dagster.metering.window import metering_range_tags
from billing_dagster.periods import partition_key


@dg.sensor(
    jobs=[metering_job, billing_job],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def late_data_backfill(context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource):
    client = clickhouse.get_client()
    if not models_deployed(client, clickhouse.database):
        return dg.SkipReason("waiting for models_deployment to deploy this dbt project")
    runs, cursor = plan_backfill(
        client, clickhouse.database, BackfillCursor.parse(context.cursor), datetime.now(UTC).date()
    )
    requests = [
        dg.RunRequest(
            run_key=run.run_key,
            job_name=metering_job.name,
            tags=metering_range_tags(run.first, run.last),
        )
        if isinstance(run, MeteringRequest)
        else dg.RunRequest(
            run_key=run.run_key, job_name=billing_job.name, partition_key=partition_key(run.period)
        )
        for run in runs
    ]
    return dg.SensorResult(run_requests=requests, cursor=cursor.text())
