"""Prepaid credit balances as finance reads them: granted, used up to a period, left."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog
from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.assemble import InvoiceBook, grant_order
from billing_dagster.invoicing.store import rated_usage


def credit_balances(
    client: Client, database: str, catalog: Catalog, customer_id: str, period: str
) -> list[dict]:
    """One row per grant of the customer, in the order grants are used, with what the
    invoices up to and including `period` take from it (the same arithmetic as billing)."""
    customer = next(c for c in catalog.customers if c.id == customer_id)
    book = InvoiceBook(catalog, lambda p: rated_usage(client, database, [p], [customer_id])[p])
    balances = book.balances_after(customer, period)
    grants = sorted(
        (g for g in catalog.credit_grants if g.customer == customer_id), key=grant_order
    )
    return [
        {
            "grant": grant.id,
            "amount": decimal_text(grant.amount),
            "used": decimal_text(grant.amount - balances[grant.id]),
            "balance": decimal_text(balances[grant.id]),
            "effective": grant.effective.isoformat(),
            "expires": grant.expires.isoformat() if grant.expires else None,
            "priority": grant.priority,
        }
        for grant in grants
    ]
