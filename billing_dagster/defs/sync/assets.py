"""The sync of a finalized period to the payment gateway, its totals check, and the payment
status pulled back (docs/gateways.md)."""

import dagster as dg

from billing_dagster.defs.partitions import billing_periods
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.defs.sync.resources import GatewayResource
from billing_dagster.disputes.pull import pull_all_disputes
from billing_dagster.gateways.status import TotalsCheck, check_totals, pull_all_statuses
from billing_dagster.gateways.sync import SyncRefused, sync_period
from billing_dagster.locks import DISPUTES, GATEWAY_SYNC, home_lock
from billing_dagster.periods import period_of_partition

TOTALS_CHECK = "totals_match_gateway"


@dg.asset(
    partitions_def=billing_periods,
    deps=["invoice_finalizations", "finalized_documents"],
    group_name="gateway_sync",
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            TOTALS_CHECK,
            asset="gateway_invoices",
            description="Every synced invoice totals the same on the gateway as ours, to the cent.",
        )
    ],
)
def gateway_invoices(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    gateway: GatewayResource,
    billing_home: BillingHomeResource,
):
    """The period's finalized invoices and credit notes on each customer's payment gateway,
    each exactly once; a document the gateway refuses is listed as failed, the others go on."""
    period = period_of_partition(context.partition_key)
    client, database = clickhouse.get_client(), clickhouse.database
    gateways, retry = gateway.get_gateways(), gateway.retry_policy()
    try:
        with home_lock(billing_home.path, GATEWAY_SYNC):
            summary = sync_period(client, database, gateways, period, retry)
    except SyncRefused as refused:
        raise dg.Failure(str(refused)) from refused
    for failure in summary.failed:
        context.log.warning(f"{failure['id']} not synced: {failure['reason']}")
    for waiting in summary.pending:
        context.log.info(f"{waiting['id']} waits: {waiting['reason']}")
    context.log.info(
        f"{period} on {summary.gateway}: {len(summary.synced)} synced, "
        f"{len(summary.already_synced)} already synced, {len(summary.voided)} voided, "
        f"{len(summary.pending)} pending, {len(summary.failed)} failed"
    )
    return dg.MaterializeResult(
        metadata={
            "period": period,
            "gateway": summary.gateway,
            "synced": len(summary.synced),
            "already_synced": len(summary.already_synced),
            "pending": len(summary.pending),
            "failed": len(summary.failed),
            "summary": dg.MetadataValue.json(summary.as_json()),
        },
        check_results=[_totals_check(check_totals(client, database, gateways, retry, period))],
    )


def _totals_check(totals: TotalsCheck) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=TOTALS_CHECK,
        passed=not totals.mismatches and not totals.error,
        metadata={
            "checked": totals.checked,
            "mismatches": dg.MetadataValue.json(totals.mismatches),
            "error": totals.error,
        },
    )


@dg.asset(deps=[gateway_invoices], group_name="gateway_sync", kinds={"clickhouse"})
def invoice_statuses(clickhouse: ClickHouseResource, gateway: GatewayResource):
    """Payment status (open, paid, void, uncollectible) of every synced invoice, as its
    gateway reports it; each pull appends, the latest is in force."""
    counts = pull_all_statuses(
        clickhouse.get_client(),
        clickhouse.database,
        gateway.get_gateways(),
        gateway.retry_policy(),
    )
    return dg.MaterializeResult(metadata={"statuses": dg.MetadataValue.json(counts)})


@dg.asset(deps=[invoice_statuses], group_name="gateway_sync", kinds={"clickhouse"})
def invoice_disputes(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    gateway: GatewayResource,
    billing_home: BillingHomeResource,
):
    """Disputes of paid invoices (opened, won, lost), as their gateway reports them; a row
    per state change, so a pull that finds nothing new adds nothing."""
    with home_lock(billing_home.path, DISPUTES):
        pulled = pull_all_disputes(
            clickhouse.get_client(),
            clickhouse.database,
            gateway.get_gateways(),
            gateway.retry_policy(),
        )
    for name in pulled.not_reported:
        context.log.warning(f"{name} cannot report disputes: none are pulled (docs/gateways.md)")
    return dg.MaterializeResult(
        metadata={"recorded": pulled.recorded, "not_reported": ", ".join(pulled.not_reported)}
    )
