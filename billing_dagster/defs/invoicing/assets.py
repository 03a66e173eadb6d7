"""Invoicing: a billing period's draft invoices from rated usage and the catalog in force,
then their finalization (docs/invoicing.md)."""

from datetime import UTC, datetime

import dagster as dg

from billing_dagster.defs.partitions import billing_periods
from billing_dagster.defs.resources import (
    BillingHomeResource,
    BillingPolicyResource,
    ClickHouseResource,
)
from billing_dagster.invoicing.billing import NoCatalog, bill_period
from billing_dagster.invoicing.finalization import finalization_problems
from billing_dagster.invoicing.interim import write_interim_invoices
from billing_dagster.invoicing.store import (
    billed_periods,
    finalization,
    finalizations,
    latest_run,
    write_billing_run,
    write_finalization,
)
from billing_dagster.locks import USAGE, home_lock
from billing_dagster.periods import period_of_partition
from billing_dagster.webhooks.documents import announce_finalized, announce_interims

INVOICE_TABLES = {
    "billing_runs": "One row per billing run; the latest of a period holds its drafts.",
    "invoices": "Invoices with totals and their JSON document, per billing run.",
    "invoice_lines": "Invoice lines (fees, usage, minimums, discounts, tax, credits, adjustments).",
    "credit_notes": "Credit notes for corrections that lower a finalized period's amount.",
    "interim_invoices": "Interim invoices of open periods (threshold invoicing); never changed.",
}

FINALIZATION_TABLES = {
    "invoice_finalizations": "One row per finalized period: the billing run frozen for it.",
    "finalized_documents": "Finalized invoices and credit notes; never changed.",
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
def invoices(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
):
    """Draft invoices of the period: one per customer with a subscription active in it, and
    for the period that carries late data, its adjustments and credit notes."""
    with home_lock(billing_home.path, USAGE):
        return _bill(context, clickhouse, period_of_partition(context.partition_key))


def _bill(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, period: str):
    client = clickhouse.get_client()
    database = clickhouse.database
    final = finalization(client, database, period)
    if final:
        context.log.info(
            f"{period} is finalized (billing run {final.billing_run_id}); its invoices never "
            f"change, late data for it is billed by the next open period"
        )
        return _results(INVOICE_TABLES, period=period, finalized=True)
    try:
        billing = bill_period(client, database, period)
    except NoCatalog as error:
        raise dg.Failure(str(error)) from None
    adjusted = sorted({adjusted for _, adjusted in billing.corrected})
    write_interim_invoices(client, database, billing.interims, billing.catalog_version)
    announce_interims(client, database, period)  # also those of a run killed before this
    run_id = write_billing_run(client, database, billing)
    context.log.info(
        f"{period}: {len(billing.invoices)} draft invoices, {len(billing.credit_notes)} credit "
        f"notes, {len(billing.interims)} interim invoices issued, corrections of finalized "
        f"periods {adjusted or 'none'} (billing run {run_id})"
    )
    return _results(
        INVOICE_TABLES,
        period=period,
        invoices=len(billing.invoices),
        credit_notes=len(billing.credit_notes),
        interim_invoices=dg.MetadataValue.json([i["invoice_id"] for i in billing.interims]),
        adjusted_periods=dg.MetadataValue.json(adjusted),
        catalog_version=billing.catalog_version,
        billing_run_id=run_id,
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, description=description, kinds={"clickhouse"}, deps=list(INVOICE_TABLES))
        for name, description in FINALIZATION_TABLES.items()
    ],
    partitions_def=billing_periods,
    group_name="invoicing",
)
def finalized_invoices(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
    billing_policy: BillingPolicyResource,
):
    """Freeze the period's billing run in force: its invoices and credit notes become
    finalized, once; materializing it again changes nothing."""
    with home_lock(billing_home.path, USAGE):
        return _finalize(
            context, clickhouse, billing_policy, period_of_partition(context.partition_key)
        )


def _finalize(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    billing_policy: BillingPolicyResource,
    period: str,
):
    client = clickhouse.get_client()
    database = clickhouse.database
    final = finalization(client, database, period)
    if final:
        context.log.info(f"{period} was already finalized (billing run {final.billing_run_id})")
        announce_finalized(client, database, period)  # in case a crash came between
        return _results(FINALIZATION_TABLES, period=period, billing_run_id=final.billing_run_id)
    problems = finalization_problems(
        period,
        datetime.now(UTC).date(),
        billing_policy.finalize_grace_days,
        billed_periods(client, database),
        [f.period for f in finalizations(client, database)],
    )
    if problems:
        raise dg.Failure("; ".join(problems))
    run_id = latest_run(client, database, period)
    write_finalization(client, database, period, run_id)
    announce_finalized(client, database, period)
    context.log.info(f"{period} finalized: billing run {run_id}")
    return _results(FINALIZATION_TABLES, period=period, billing_run_id=run_id)


def _results(tables: dict[str, str], **metadata) -> tuple[dg.MaterializeResult, ...]:
    return tuple(dg.MaterializeResult(asset_key=name, metadata=metadata) for name in tables)
