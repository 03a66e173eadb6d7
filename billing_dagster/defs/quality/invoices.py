"""Invariants of the invoices in force for a period (its latest billing run): each invoice's
figures are the sums of its lines, no total is negative, and every customer with a
subscription active in the period (catalog in force) has an invoice."""

from collections import defaultdict
from decimal import Decimal

import dagster as dg

from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.defs.partitions import billing_periods
from billing_dagster.defs.quality.rules import ERROR, invoice_problems, listing
from billing_dagster.defs.quality.scope import partitioned_check, result
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.periods import period_bounds, period_of_partition

FIGURES = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")


@partitioned_check(
    dg.AssetKey("invoices"),
    "invoice_invariants",
    billing_periods,
    "The latest billing run's invoices add up line by line, none is negative, and "
    "every customer with a subscription active in the period has one.",
)
def invoice_invariants(
    context: dg.AssetCheckExecutionContext, clickhouse: ClickHouseResource
) -> dg.AssetCheckResult:
    client = clickhouse.get_client()
    db = f"`{clickhouse.database}`"
    problems: list[str] = []
    checked = 0
    for period in map(period_of_partition, context.partition_keys):
        run_id = client.command(
            f"SELECT argMax(billing_run_id, created_at) FROM {db}.billing_runs "
            f"WHERE period = {{period:String}}",
            parameters={"period": period},
        )
        if not run_id:
            problems.append(f"{period}: no billing run")
            continue
        where = {"run": run_id}
        lines = defaultdict(list)
        for invoice_id, kind, amount in client.query(
            f"SELECT invoice_id, kind, amount FROM {db}.invoice_lines "
            f"WHERE billing_run_id = {{run:String}} ORDER BY invoice_id, line_no",
            parameters=where,
        ).result_rows:
            lines[invoice_id].append((kind, Decimal(amount)))
        invoices = client.query(
            f"SELECT invoice_id, customer_id, currency, {', '.join(FIGURES)} FROM {db}.invoices "
            f"WHERE billing_run_id = {{run:String}} ORDER BY customer_id, invoice_id",
            parameters=where,
        ).result_rows
        checked += len(invoices)
        for invoice_id, customer, currency, *figures in invoices:
            figures_by_name = dict(zip(FIGURES, figures, strict=True))
            problems += invoice_problems(
                invoice_id, customer, currency, figures_by_name, lines[invoice_id]
            )
        first, following = period_bounds(period)
        uninvoiced = client.query(
            f"SELECT DISTINCT customer_id FROM {db}.catalog_subscriptions "
            f"WHERE {IN_FORCE.format(db=db)} "
            f"AND start_date < {{following:Date}} "
            f"AND (end_date IS NULL OR end_date > {{first:Date}}) AND customer_id NOT IN "
            f"(SELECT customer_id FROM {db}.invoices WHERE billing_run_id = {{run:String}}) "
            f"ORDER BY customer_id",
            parameters={**where, "first": first, "following": following},
        ).result_rows
        problems += [
            f"{period}: customer {customer} has a subscription active in the period but no "
            f"invoice in billing run {run_id}"
            for (customer,) in uninvoiced
        ]
    description = (
        f"{len(problems)} problems: {listing(problems)}"
        if problems
        else f"{checked} invoices add up and every active subscription is invoiced"
    )
    return result(not problems, description, ERROR, invoices=checked, problems=problems)
