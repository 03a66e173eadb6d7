"""A customer's invoice of an open period, so far and projected, both priced by the same
rating SQL and invoice code as every invoice. The projected invoice is what the period
comes to if usage goes on at the pace of its days gone: quantities are projected (counts
and sums scale with time, the others stay: `fct_subscription_usage_projected`), then
rated and invoiced, so tiers, minimums, discounts, tax and credits come out right.
Extrapolating the amount instead would be wrong as soon as a tier is crossed later in
the period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog, Customer
from billing_dagster.invoicing.assemble import InvoiceBook, PeriodUsage
from billing_dagster.invoicing.documents import Invoice
from billing_dagster.invoicing.interim import interims_reader
from billing_dagster.invoicing.store import CustomerUsage
from billing_dagster.periods import period_of


def projection_day(client: Client, database: str, today: date) -> date | None:
    """The last day of usage a projection of the open period stands on: the day of the
    last metering run (exact usage), or today when it ran today; None before any."""
    finished = client.command(
        f"SELECT toDate(max(metered_at)) FROM `{database}`.metering_runs HAVING count() > 0"
    )
    return min(date.fromisoformat(finished), today) if finished else None


def projected_invoice(
    client: Client,
    database: str,
    catalog: Catalog,
    customer_id: str,
    as_of: date,
    usage: CustomerUsage | None = None,
) -> Invoice | None:
    """The customer's invoice of `as_of`'s period, projected from the usage metered so
    far with `as_of` as its last day (status `projected`); None without a subscription.
    `usage`: the customer's rated usage already read, if any."""
    customer = _customer(catalog, customer_id)
    usage = usage or CustomerUsage(lambda: client, database, customer, period_of(as_of))
    invoice = _invoice(
        client, database, catalog, customer_id, period_of(as_of), usage.projected(as_of)
    )
    return invoice | {"status": "projected"} if invoice else None


def invoice_so_far(
    client: Client,
    database: str,
    catalog: Catalog,
    customer_id: str,
    period: str,
    usage: CustomerUsage | None = None,
) -> Invoice | None:
    """The customer's invoice of `period` from the usage metered so far: the draft that
    `billing bill` would write now, line for line (status `so far`)."""
    customer = _customer(catalog, customer_id)
    usage = usage or CustomerUsage(lambda: client, database, customer, period)
    invoice = _invoice(client, database, catalog, customer_id, period, usage)
    return invoice | {"status": "so far"} if invoice else None


def _customer(catalog: Catalog, customer_id: str) -> Customer:
    return next(c for c in catalog.customers if c.id == customer_id)


def _invoice(
    client: Client,
    database: str,
    catalog: Catalog,
    customer_id: str,
    period: str,
    usage_of: Callable[[str], PeriodUsage],
) -> Invoice | None:
    """The invoice of the period, deducting the interim invoices already issued in it."""
    book = InvoiceBook(catalog, usage_of, interims_reader(client, database))
    invoices = book.invoices(period, [customer_id])
    return invoices[0] if invoices else None
