"""Bill the previous month on the 1st at 02:00 UTC, once its usage has arrived."""

from datetime import timedelta

import dagster as dg

from billing_dagster.defs.jobs import billing_job


@dg.schedule(
    job=billing_job,
    cron_schedule="0 2 1 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def monthly_billing_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    this_month = context.scheduled_execution_time.date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return dg.RunRequest(partition_key=last_month.isoformat())
