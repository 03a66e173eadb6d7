"""Usage alerts after every metering run, and the delivery of webhooks.

`usage_alerts` is partitioned like the daily usage it follows (one run for a range, in
`metering_job`): it triggers, confirms and resolves the catalog's alert rules on exact
usage of the windows current now, and of the billing periods over among the days metered,
each alert once (billing_dagster/alerts/). Its check proves it: no alert was triggered or
resolved twice. `webhook_delivery_job` posts what the outbox owes; the sensor
`webhook_deliveries` launches it when something is due and `billing serve` is not
delivering already.
"""

import warnings
from datetime import UTC, datetime

import dagster as dg

from billing_dagster.alerts.evaluation import evaluate_exact, evaluation_instants
from billing_dagster.defs.metering.assets import metering_daily
from billing_dagster.defs.partitions import metering_days
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.webhooks.delivery import deliver_due

# A range of days is one run, as for the daily usage: Dagster calls the parameter beta.
warnings.filterwarnings("ignore", "Parameter `backfill_policy`", dg.BetaWarning)


@dg.asset(
    deps=[*metering_daily.keys],
    partitions_def=metering_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="metering",
    kinds={"python", "clickhouse"},
)
def usage_alerts(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
) -> dg.MaterializeResult:
    """Alerts of the catalog's rules on exact usage: each (rule, customer, target, period,
    threshold) triggered once, resolved at most once, announced through the outbox."""
    client = clickhouse.get_client()
    first_day, end = context.partition_time_window
    transitions = [
        transition
        for instant in evaluation_instants(first_day, end, datetime.now(UTC))
        for transition in evaluate_exact(client, clickhouse.database, billing_home.path, instant)
    ]
    counts = {
        kind: sum(t.kind == kind for t in transitions)
        for kind in ("triggered", "confirmed", "resolved")
    }
    context.log.info(
        "alerts: {triggered} triggered, {resolved} resolved, {confirmed} confirmed".format(**counts)
    )
    return dg.MaterializeResult(metadata={f"alerts_{k}": v for k, v in counts.items()})


@dg.asset_check(asset=usage_alerts, blocking=False)
def alerts_once(clickhouse: ClickHouseResource) -> dg.AssetCheckResult:
    """No alert was triggered or resolved twice (the exactly-once promise, checked)."""
    repeated = (
        clickhouse.get_client()
        .query(
            f"SELECT rule_id, customer_id, target, period_start, threshold, kind, count() AS n "
            f"FROM `{clickhouse.database}`.alert_transitions "
            f"GROUP BY rule_id, customer_id, target, period_start, threshold, kind HAVING n > 1 "
            f"ORDER BY customer_id, rule_id LIMIT 20"
        )
        .result_rows
    )
    return dg.AssetCheckResult(
        passed=not repeated,
        metadata={
            "repeated": dg.MetadataValue.md(
                "\n".join(f"- {r[1]} {r[0]} {r[2]} {r[3]} {r[4]}: {r[5]} x{r[6]}" for r in repeated)
                or "none"
            )
        },
    )


@dg.op
def deliver_webhooks(
    context: dg.OpExecutionContext,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
) -> None:
    """Post every webhook delivery that is due (one round)."""
    done = deliver_due(clickhouse.get_client(), clickhouse.database, billing_home.path)
    if done.skipped:
        context.log.info("another deliverer (billing serve?) is delivering; nothing to do")
    else:
        context.log.info(f"webhooks: {done.delivered} delivered, {done.failed} failed attempts")


@dg.job(description="Post the webhook deliveries that are due, signed, recording each attempt.")
def webhook_delivery_job():
    deliver_webhooks()
