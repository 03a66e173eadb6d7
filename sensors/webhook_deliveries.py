"""Deliver webhooks that are due when `billing serve` is not running to deliver them: every
30 seconds, a run of `webhook_delivery_job` if some delivery is due and no deliverer holds
the home's `webhooks` lock. The run key names the deliveries and their attempt, so a tick
never asks twice for the same attempt."""

import hashlib
from datetime import UTC, datetime

import dagster as dg

from billing_dagster.defs.alerts.assets import webhook_delivery_job
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.locks import WEBHOOKS, home_lock_if_free
from billing_dagster.webhooks.delivery import deliveries


@dg.sensor(
    job=webhook_delivery_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def webhook_deliveries(clickhouse: ClickHouseResource, billing_home: BillingHomeResource):
    with home_lock_if_free(billing_home.path, WEBHOOKS) as free:
        if not free:
            return dg.SkipReason("billing serve (or a run) is delivering webhooks")
    now = datetime.now(UTC)
    due = sorted(
        f"{d.event_id}/{d.endpoint.endpoint_id}/{d.failures}"
        for d in deliveries(clickhouse.get_client(), clickhouse.database)
        if d.due(now)
    )
    if not due:
        return dg.SkipReason("no webhook delivery is due")
    digest = hashlib.sha256("\n".join(due).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"webhooks-{digest}")
