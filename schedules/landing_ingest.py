"""Load whatever landed today, every 15 minutes (a file already loaded is skipped)."""

import dagster as dg

from billing_dagster.defs.ingestion.jobs import ingest_job


@dg.schedule(
    job=ingest_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def landing_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(partition_key=context.scheduled_execution_time.date().isoformat())
