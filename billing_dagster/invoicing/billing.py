"""Billing one period: the interim invoices due in it (threshold invoicing), its draft
invoices from rated usage and the catalog in force, and, when it is the period that carries
late data, the corrections of the finalized periods before it (docs/invoicing.md,
"Finalization")."""

from __future__ import annotations

from functools import cache

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.invoicing.adjustments import corrections, credit_note, with_adjustments
from billing_dagster.invoicing.assemble import InvoiceBook
from billing_dagster.invoicing.finalization import carrier_period, rerated_periods
from billing_dagster.invoicing.interim import due_interims, interims_reader
from billing_dagster.invoicing.store import (
    BillingRun,
    billed_versions,
    finalizations,
    late_periods,
    rated_usage,
)
from billing_dagster.metering.ledger import metered_loads


class NoCatalog(Exception):
    """Nothing can be billed before a catalog is applied."""


def bill_period(client: Client, database: str, period: str) -> BillingRun:
    """The billing run of `period`, not yet stored (store.write_billing_run stores it)."""
    version = latest_catalog_version(client, database)
    if version is None:
        raise NoCatalog("no catalog has been applied; run `billing catalog apply FILE` first")
    catalog = load_catalog(client, database, version)
    loads = metered_loads(client, database)
    finalized = [f.period for f in finalizations(client, database)]
    late = late_periods(client, database, period) if carrier_period(finalized) == period else []
    # Only credit balances carry from one period to the next: a later finalized period is
    # re-rated for the customers with grants, a period with late data for everyone.
    with_grants = sorted({grant.customer for grant in catalog.credit_grants})

    @cache
    def usage_of(billed: str):
        customers = None if billed == period or billed in late else with_grants
        return rated_usage(client, database, [billed], customers)[billed]

    issued_before = interims_reader(client, database)
    interims = []
    if period not in finalized:
        interims = due_interims(catalog, InvoiceBook(catalog, usage_of, issued_before), period)
    due = {invoice["customer_id"]: invoice for invoice in interims}

    def interims_of(customer: str, billed: str):
        issued = issued_before(customer, billed)
        return [*issued, due[customer]] if billed == period and customer in due else issued

    book = InvoiceBook(catalog, usage_of, interims_of)
    invoices = book.invoices(period)
    raised, notes, corrected = [], [], {}
    for adjusted in rerated_periods(finalized, late):
        customers = None if adjusted in late else set(with_grants)
        billed = billed_versions(client, database, adjusted)
        if customers is not None:
            billed = {customer: doc for customer, doc in billed.items() if customer in customers}
        rerated = {i["customer_id"]: i for i in book.invoices(adjusted, customers)}
        for correction in corrections(adjusted, billed, rerated):
            if correction.difference > 0:
                raised.append(correction)
            else:
                notes.append(credit_note(correction, period))
            corrected[correction.customer_id, adjusted] = correction.corrected
    return BillingRun(
        *(period, version, loads, with_adjustments(invoices, raised, period), notes, corrected),
        interims,
    )
