"""A plan migration's dry run: each moved customer's invoice of the effective date's period
under the catalog in force and under the migrated one. Both are billed by `bill_period`, the
code of every billing run, the migrated one in a scratch warehouse whose catalog in force is
the migrated catalog (warehouse/scratch.py): the same rating SQL and invoice assembly, so
the preview is the draft `billing bill` writes after the migration, from the usage metered
so far. Nothing is written to the warehouse."""

from __future__ import annotations

from typing import TypedDict

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.migration import Migration, MigrationPlan
from billing_dagster.invoicing.billing import bill_period
from billing_dagster.invoicing.documents import Invoice
from billing_dagster.invoicing.printing import invoice_tables
from billing_dagster.periods import period_of
from billing_dagster.warehouse.scratch import scratch_warehouse


class InvoicePair(TypedDict):
    customer_id: str
    period: str
    current: Invoice | None
    migrated: Invoice | None


def migration_preview(
    client: Client, database: str, migration: Migration, plan: MigrationPlan
) -> list[InvoicePair]:
    """The invoices of each customer the migration moves, before and after it. The caller
    holds the home's catalog lock (the scratch warehouse needs it)."""
    period = period_of(migration.effective)
    current = _by_customer(bill_period(client, database, period).invoices)
    with scratch_warehouse(client, database, plan.catalog) as scratch:
        migrated = _by_customer(bill_period(client, scratch, period).invoices)
    return [
        InvoicePair(
            customer_id=customer,
            period=period,
            current=current.get(customer),
            migrated=migrated.get(customer),
        )
        for customer in plan.moved
    ]


def preview_text(pairs: list[InvoicePair]) -> str:
    parts = []
    for pair in pairs:
        for label in ("current", "migrated"):
            invoice = pair[label]
            title = f"{pair['customer_id']}, {pair['period']}, {label} catalog"
            body = invoice_tables([invoice]) if invoice else "(no invoice)"
            parts.append(f"{title}\n{body}")
    return "\n\n".join(parts)


def _by_customer(invoices: list[Invoice]) -> dict[str, Invoice]:
    return {invoice["customer_id"]: invoice for invoice in invoices}
