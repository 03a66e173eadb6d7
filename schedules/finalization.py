"""Finalize the last period whose grace period has ended, every day at 03:00 UTC.

Finalizing an already finalized period changes nothing, so the daily run is safe; the run
key makes Dagster launch it once per period.
"""

import dagster as dg

from billing_dagster.defs.invoicing.jobs import finalize_job
from billing_dagster.defs.resources import BillingPolicyResource
from billing_dagster.invoicing.finalization import period_due
from billing_dagster.periods import partition_key


@dg.schedule(
    job=finalize_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def finalization_schedule(
    context: dg.ScheduleEvaluationContext, billing_policy: BillingPolicyResource
) -> dg.RunRequest:
    period = period_due(context.scheduled_execution_time.date(), billing_policy.finalize_grace_days)
    return dg.RunRequest(run_key=f"finalize-{period}", partition_key=partition_key(period))
