"""Invoicing: a billing period's draft invoices from rated usage and the catalog in force."""

from functools import cache

import dagster as dg

from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.defs.partitions import billing_periods, period_of_partition
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.invoicing.assemble import InvoiceBook
from billing_dagster.invoicing.store import rated_usage, write_billing_run

INVOICE_TABLES = {
    "billing_runs": "One row per billing run; the latest of a period holds its invoices.",
    "invoices": "Invoices with totals and their JSON document, per billing run.",
    "invoice_lines": "Invoice lines (fees, usage, minimums, discounts, tax, credits).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            description=description,
            kinds={"clickhouse"},
            deps=["fct_rated_usage", "catalog_versions", "catalog_credit_grants"],
        )
        for name, description in INVOICE_TABLES.items()
    ],
    partitions_def=billing_periods,
    group_name="invoicing",
)
def invoices(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource):
    """Draft invoices of the period: one per customer with a subscription active in it."""
    period = period_of_partition(context.partition_key)
    client = clickhouse.get_client()
    database = clickhouse.database
    version = latest_catalog_version(client, database)
    if version is None:
        raise dg.Failure("no catalog has been applied; run `billing catalog apply FILE` first")
    catalog = load_catalog(client, database, version)
    with_grants = sorted({grant.customer for grant in catalog.credit_grants})

    @cache
    def usage_of(billed: str):
        # Earlier periods are read only for customers whose credit balances depend on them.
        customers = None if billed == period else with_grants
        return rated_usage(client, database, [billed], customers)[billed]

    drafts = InvoiceBook(catalog, usage_of).invoices(period)
    run_id = write_billing_run(client, database, period, version, drafts)
    context.log.info(f"{period}: {len(drafts)} draft invoices (billing run {run_id})")
    metadata = {
        "period": period,
        "invoices": len(drafts),
        "catalog_version": version,
        "billing_run_id": run_id,
    }
    for name in INVOICE_TABLES:
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
