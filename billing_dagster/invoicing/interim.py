"""Threshold invoicing: the interim invoices of an open period, issued once each.

A plan version's `invoice_at_amount` makes every billing run of an open period issue an
interim invoice for the usage accrued since the customer's last one, once that reaches the
amount (the rule is `InvoiceBook.interim`, docs/invoicing.md "Threshold invoicing"). An
interim invoice is final when issued: it is stored once, never changed, synced and announced
like a finalized invoice, and the period's invoice deducts it. Issuing runs under the home's
`usage` lock (the billing asset's), so two runs at once issue in turn and the second finds
the first's; one row per invoice, inserted at once, so a run killed midway issued all of
its interim invoices or none, and the next run issues what is still due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog
from billing_dagster.invoicing.assemble import InterimsOf, InvoiceBook
from billing_dagster.invoicing.documents import Invoice
from billing_dagster.invoicing.store import invoice_json


def interim_invoices(
    client: Client, database: str, period: str, customer_id: str | None = None
) -> list[Invoice]:
    """The interim invoices issued in `period` (to every customer or to `customer_id`), by
    customer then in the order issued."""
    where = "period = {period:String}"
    if customer_id is not None:
        where += " AND customer_id = {customer:String}"
    rows = client.query(
        f"SELECT document FROM `{database}`.interim_invoices WHERE {where} "
        f"ORDER BY customer_id, number, issued_at LIMIT 1 BY invoice_id",
        parameters={"period": period, "customer": customer_id},
    ).result_rows
    return [json.loads(document) for (document,) in rows]


def interims_reader(client: Client, database: str) -> InterimsOf:
    """`interims_of` for an InvoiceBook: each period's interim invoices read once."""

    @cache
    def of_period(period: str) -> dict[str, list[Invoice]]:
        issued: dict[str, list[Invoice]] = {}
        for invoice in interim_invoices(client, database, period):
            issued.setdefault(invoice["customer_id"], []).append(invoice)
        return issued

    return lambda customer_id, period: of_period(period).get(customer_id, [])


def due_interims(catalog: Catalog, book: InvoiceBook, period: str) -> list[Invoice]:
    """The interim invoices due now in `period`, one at most per customer."""
    due = (book.interim(customer, period) for customer in catalog.customers)
    return sorted((invoice for invoice in due if invoice), key=lambda i: i["customer_id"])


def write_interim_invoices(
    client: Client, database: str, invoices: list[Invoice], catalog_version: int
) -> None:
    """Issue these interim invoices (made with that catalog version): one insert, so all of
    them or none."""
    if not invoices:
        return
    now = datetime.now(UTC)
    client.insert(
        f"`{database}`.interim_invoices",
        [
            [
                *(i["period"], i["customer_id"], i["invoice_id"], i["interim"], i["currency"]),
                *(Decimal(i["total"]), catalog_version, invoice_json(i), now),
            ]
            for i in invoices
        ],
        column_names=[
            "period",
            "customer_id",
            "invoice_id",
            "number",
            "currency",
            "total",
            "catalog_version",
            "document",
            "issued_at",
        ],
    )
