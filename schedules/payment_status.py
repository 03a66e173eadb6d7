"""Pull payment status (paid, open, void, uncollectible) and disputes from the gateways every
hour."""

import dagster as dg

from billing_dagster.defs.sync.jobs import payment_status_job


@dg.schedule(
    job=payment_status_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def payment_status_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"payment-status-{context.scheduled_execution_time:%Y%m%dT%H}")
