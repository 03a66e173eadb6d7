"""Metering: dbt models that turn effective events into usage per day and per period.

Four sets, in dependency order: `metering_views` (staging and intermediate views),
`metering_daily` (incremental, one partition per event day, a range in one dbt run),
`period_usage` (views over the daily table per billing period) and `finance_views`
(invoices, lines, credit notes and adjustments in force, for analysts). The views are
deployed together (`models_job`), whenever the dbt project changed: `dbt_deployment`
records which version of it the warehouse holds.
"""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from billing_dagster.defs.metering.dbt_run import create_empty, dbt_build
from billing_dagster.defs.metering.project import metering_project
from billing_dagster.defs.metering.translator import MeteringTranslator
from billing_dagster.defs.partitions import metering_days
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.ingest.ledger import committed_loads
from billing_dagster.locks import USAGE, home_lock
from billing_dagster.metering.dbt_project import DAILY_MODEL, project_digest, record_deployment
from billing_dagster.metering.ledger import metrics_fingerprint, record_metering
from billing_dagster.metering.local_days import local_day_slack, local_window
from billing_dagster.metering.window import metering_window

VIEW_MODELS = "path:models/staging path:models/intermediate"
#: Views over the daily table: usage per period, then its rating (docs/invoicing.md).
PERIOD_MODELS = (
    "fct_subscription_usage fct_rated_usage_tiers fct_rated_usage fct_entitlement_usage "
    "fct_subscription_usage_projected fct_projected_rated_usage"
)
#: Views for finance and analysts over the invoice tables (docs/analysts.md).
FINANCE_MODELS = "path:models/marts/finance"


@dbt_assets(
    manifest=metering_project.manifest_path,
    project=metering_project,
    select=DAILY_MODEL,
    partitions_def=metering_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=MeteringTranslator(),
    name="metering_daily",
    pool="billing_metering",
)
def metering_daily(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
):
    start, end = context.partition_time_window
    window = metering_window(start, end)
    context.log.info(f"metering {window['min_date']} .. {window['max_date']}")
    client = clickhouse.get_client()
    with home_lock(billing_home.path, USAGE):
        # What this run sees, read before it runs: a load or catalog committed meanwhile
        # leaves its days stale, so they are metered again.
        covered_loads = committed_loads(client, clickhouse.database)
        metrics = metrics_fingerprint(client, clickhouse.database)
        local_days = local_window(window, local_day_slack(client, clickhouse.database))
        yield from dbt_build(context, dbt, clickhouse, billing_home.path, local_days)
        record_metering(client, clickhouse.database, window, covered_loads, metrics)


def _unpartitioned_dbt_assets(name: str, select: str, needs_daily_table: bool = False):
    @dbt_assets(
        manifest=metering_project.manifest_path,
        project=metering_project,
        select=select,
        dagster_dbt_translator=MeteringTranslator(),
        name=name,
    )
    def _assets(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        clickhouse: ClickHouseResource,
        billing_home: BillingHomeResource,
    ):
        with home_lock(billing_home.path, USAGE):
            if needs_daily_table:
                create_empty(dbt, clickhouse, billing_home.path, DAILY_MODEL)
            yield from dbt_build(context, dbt, clickhouse, billing_home.path)

    return _assets


metering_views = _unpartitioned_dbt_assets("metering_views", VIEW_MODELS)
period_usage = _unpartitioned_dbt_assets("period_usage", PERIOD_MODELS, needs_daily_table=True)
finance_views = _unpartitioned_dbt_assets("finance_views", FINANCE_MODELS, needs_daily_table=True)


@dg.asset(
    deps=[*metering_views.keys, *period_usage.keys, *finance_views.keys],
    group_name="metering",
    kinds={"clickhouse"},
)
def dbt_deployment(clickhouse: ClickHouseResource) -> dg.MaterializeResult:
    """The version of the dbt project whose views the warehouse holds (`dbt_deployments`):
    a change to the project deploys them again (sensor `models_deployment`)."""
    digest = project_digest()
    record_deployment(clickhouse.get_client(), clickhouse.database, digest)
    return dg.MaterializeResult(metadata={"project_digest": digest})
