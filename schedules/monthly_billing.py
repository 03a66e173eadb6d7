"""Bill the previous month on the 1st at 02:00 UTC, once its usage has arrived."""

import dagster as dg

from billing_dagster.defs.invoicing.jobs import billing_job
from billing_dagster.periods import partition_key, period_of, previous_period


@dg.schedule(
    job=billing_job,
    cron_schedule="0 2 1 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def monthly_billing_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    this_month = period_of(context.scheduled_execution_time.date())
    return dg.RunRequest(partition_key=partition_key(previous_period(this_month)))
