"""Prepaid credit balances as finance reads them: granted, used up to a period, left."""

from __future__ import annotations

from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog
from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.assemble import InvoiceBook, grant_order, money_text
from billing_dagster.invoicing.interim import interims_reader
from billing_dagster.invoicing.store import CustomerUsage


def credit_balances(
    client: Client,
    database: str,
    catalog: Catalog,
    customer_id: str,
    period: str,
    usage: CustomerUsage | None = None,
) -> list[dict]:
    """One row per grant of the customer, in the order grants are used, with what the
    invoices up to and including `period` (interim invoices among them) take from it (the
    same arithmetic as billing).
    `usage`: the customer's rated usage already read, if any."""
    customer = next(c for c in catalog.customers if c.id == customer_id)
    first = customer.subscriptions[0] if customer.subscriptions else None

    def text(amount: Decimal) -> str:
        """In the customer's currency; a customer never subscribed has none (nor any use)."""
        if first is None:
            return decimal_text(amount)
        return money_text(amount, catalog.plan_version(first.plan, first.version).currency)

    usage = usage or CustomerUsage(lambda: client, database, customer, period)
    book = InvoiceBook(catalog, usage, interims_reader(client, database))
    balances = book.balances_after(customer, period)
    grants = sorted(
        (g for g in catalog.credit_grants if g.customer == customer_id), key=grant_order
    )
    return [
        {
            "grant": grant.id,
            "amount": text(grant.amount),
            "used": text(grant.amount - balances[grant.id]),
            "balance": text(balances[grant.id]),
            "effective": grant.effective.isoformat(),
            "expires": grant.expires.isoformat() if grant.expires else None,
            "priority": grant.priority,
        }
        for grant in grants
    ]
