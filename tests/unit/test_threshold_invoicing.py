"""Threshold invoicing (docs/invoicing.md): the interim invoices a period's billing runs issue
as usage accrues, and the period's invoice that deducts them, so that together they bill to
the cent what one invoice of the period bills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dagster.invoicing.assemble import InvoiceBook, RatedUsage
from tests.catalogs import THRESHOLD_CATALOG
from tests.reference.rating import reference_invoices, reference_threshold_invoices
from tests.reference.usage import Event
from tests.unit.test_catalog_validation import problems_free as validated

D = Decimal
SUBSCRIPTION = "acme:pro:2026-10-01"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def usage(calls: int):
    """What `fct_rated_usage` holds for acme once it made `calls` calls in October."""
    row = RatedUsage(SUBSCRIPTION, "calls", None, D(calls), D(calls) * D("0.50"))
    return lambda period: {(SUBSCRIPTION, "calls"): [row]} if period == "2026-10" else {}


class Runs:
    """Billing runs of October, each seeing the calls made so far; keeps what they issue."""

    def __init__(self, text: str = THRESHOLD_CATALOG):
        self.catalog = validated(text)
        self.acme = next(c for c in self.catalog.customers if c.id == "acme")
        self.issued: list[dict] = []

    def book(self, calls: int) -> InvoiceBook:
        return InvoiceBook(self.catalog, usage(calls), lambda customer, period: self.issued)

    def bill(self, calls: int) -> dict | None:
        interim = self.book(calls).interim(self.acme, "2026-10")
        if interim:
            self.issued.append(interim)
        return interim

    def invoice(self, calls: int) -> dict:
        return self.book(calls).invoices("2026-10", ["acme"])[0]


def amounts(document: dict) -> list[tuple[str, str | None, str]]:
    return [(line["kind"], line["code"], line["amount"]) for line in document["lines"]]


def test_an_interim_invoice_is_issued_each_time_the_usage_accrued_reaches_the_threshold():
    runs = Runs()
    assert runs.bill(150) is None  # 75.00 accrued
    first = runs.bill(250)  # 125.00
    assert runs.bill(250) is None  # the same run again issues nothing
    assert runs.bill(300) is None  # 25.00 since the first
    second = runs.bill(470)  # 110.00 since the first

    assert first["invoice_id"] == "INV-2026-10-acme-I1"
    assert (first["status"], first["interim"]) == ("finalized", 1)
    assert amounts(first) == [
        ("usage", "calls", "125.00"),
        ("discount", None, "-12.50"),  # the 10% percentage discount, on the usage billed
        ("tax", None, "11.25"),
    ]
    assert first["lines"][0]["quantity"] == "250"
    assert (first["subtotal"], first["discount"], first["tax"]) == ("125.00", "12.50", "11.25")
    assert first["total"] == "123.75"
    assert second["invoice_id"] == "INV-2026-10-acme-I2"
    assert amounts(second) == [
        ("usage", "calls", "110.00"),
        ("discount", None, "-11.00"),
        ("tax", None, "9.90"),
    ]
    assert second["lines"][0]["amount_to_date"] == "235.00"
    assert second["total"] == "108.90"


def test_the_period_invoice_deducts_the_interim_invoices_and_all_sum_to_one_invoice():
    runs = Runs()
    runs.bill(250)
    runs.bill(470)
    final = runs.invoice(501)
    single = InvoiceBook(runs.catalog, usage(501)).invoices("2026-10", ["acme"])[0]

    assert amounts(final) == [
        ("fixed_fee", "platform", "49.00"),
        ("usage", "calls", "250.50"),
        ("discount", None, "-29.95"),
        ("interim_invoiced", "usage", "-235.00"),
        ("interim_invoiced", "discount", "23.50"),
        ("tax", None, "5.81"),  # round(269.55 × 10%) = 26.96, less 11.25 and 9.90
    ]
    assert final["lines"][3]["interim_invoices"] == ["INV-2026-10-acme-I1", "INV-2026-10-acme-I2"]
    assert (final["subtotal"], final["discount"], final["interim_invoiced"]) == (
        "299.50",
        "29.95",
        "211.50",
    )
    assert final["total"] == "63.86"
    assert single["total"] == "296.51"
    assert D("123.75") + D("108.90") + D(final["total"]) == D(single["total"])


def test_prepaid_credits_pay_interim_invoices_first_and_the_rest_is_left_to_the_period():
    text = THRESHOLD_CATALOG + (
        'credit_grants:\n  - {id: g1, customer: acme, amount: "150.00", effective: 2026-10-01}\n'
    )
    runs = Runs(text)
    first, second = runs.bill(250), runs.bill(470)
    final = runs.invoice(501)

    assert amounts(first)[-1] == ("credit", "g1", "-123.75")
    assert first["total"] == "0.00"
    assert amounts(second)[-1] == ("credit", "g1", "-26.25")
    assert second["total"] == "82.65"
    assert final["credits_applied"] == "0.00"
    assert final["total"] == "63.86"
    # One invoice would have taken 150.00 of 296.51: the same 146.51 is left to pay.
    assert D(first["total"]) + D(second["total"]) + D(final["total"]) == D("146.51")
    assert runs.book(501).balances_after(runs.acme, "2026-10") == {"g1": D("0.00")}


def test_a_plan_without_threshold_issues_no_interim_invoice():
    catalog = validated(THRESHOLD_CATALOG)
    globex = next(c for c in catalog.customers if c.id == "globex")
    assert InvoiceBook(catalog, usage(10_000)).interim(globex, "2026-10") is None


def calls(count: int) -> list[Event]:
    """acme's first `count` calls of October, one a minute from the 1st."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return [
        Event("acme", f"call-{n}", "api_request", start + timedelta(minutes=n), {})
        for n in range(count)
    ]


#: What the product and the reference rater must agree on (the reference leaves out ids of
#: period invoices, tier breakdowns and proration details).
LINE_FIELDS = ("kind", "code", "group", "subscription_id", "quantity", "amount")
LINE_FIELDS += ("amount_to_date", "interim_invoices")
TOTALS = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")
TOTALS += ("interim", "interim_invoiced")


def compared(document: dict) -> dict:
    lines = [{f: line.get(f) for f in LINE_FIELDS} for line in document["lines"]]
    return {"lines": lines} | {f: document.get(f) for f in TOTALS}


@pytest.mark.parametrize("grant", ["", '"150.00"', '"1000.00"'])
@pytest.mark.parametrize("seen", [[150, 250, 250, 300, 470, 501], [2000, 4000, 5000]])
def test_the_reference_rater_issues_the_same_documents_to_the_cent(grant, seen):
    text = THRESHOLD_CATALOG
    if grant:
        text += "credit_grants:\n"
        text += f"  - {{id: g1, customer: acme, amount: {grant}, effective: 2026-10-01}}\n"
    runs = Runs(text)
    for count in seen:
        runs.bill(count)
    product = [*runs.issued, runs.invoice(seen[-1])]

    expected = reference_threshold_invoices([calls(n) for n in seen], runs.catalog, "2026-10")

    assert [compared(d) for d in product] == [compared(d) for d in expected["acme"]]
    assert all(D(d["total"]) >= 0 for d in product)


def test_usage_far_above_the_fees_leaves_the_period_invoice_positive():
    """Interim invoices give the percentage discounts on what they bill: the period's
    invoice is left its fee less its discount, not the discount of all the usage."""
    runs = Runs()
    runs.bill(2000)  # 1000.00 less 100.00, and tax
    runs.bill(4000)
    final = runs.invoice(4000)
    assert [d["total"] for d in runs.issued] == ["990.00", "990.00"]
    assert amounts(final)[2:] == [
        ("discount", None, "-204.90"),
        ("interim_invoiced", "usage", "-2000.00"),
        ("interim_invoiced", "discount", "200.00"),
        ("tax", None, "4.41"),
    ]
    assert final["total"] == "48.51"  # 49.00 − 4.90, and tax: the fee's part


@settings(max_examples=40, deadline=None)
@given(
    seen=st.lists(st.integers(0, 1500), min_size=1, max_size=6),
    threshold=st.sampled_from(["0.01", "7.77", "100.00", "333.33"]),
    percent=st.sampled_from(["0", "10", "33.3", "100"]),
    tax_rate=st.sampled_from(["0", "0.07", "0.10", "0.215"]),
    grant=st.sampled_from(["", "50.00", "999.99"]),
)
def test_any_runs_agree_with_the_reference_and_sum_to_one_invoice(
    seen, threshold, percent, tax_rate, grant
):
    """Any sequence of billing runs (usage may also go down: corrections), thresholds,
    discounts, tax rates and grants: the same documents as the reference rater; and while
    usage only grows, together the total of the period's one invoice."""
    text = (
        THRESHOLD_CATALOG.replace(
            'invoice_at_amount: "100.00"', f'invoice_at_amount: "{threshold}"'
        )
        .replace('value: "10"}]}', f'value: "{percent}"}}]}}', 1)
        .replace('tax_rate: "0.10"', f'tax_rate: "{tax_rate}"', 1)
    )
    if grant:
        text += "credit_grants:\n"
        text += f'  - {{id: g1, customer: acme, amount: "{grant}", effective: 2026-10-01}}\n'
    runs = Runs(text)
    for count in seen:
        runs.bill(count)
    product = [*runs.issued, runs.invoice(seen[-1])]

    expected = reference_threshold_invoices([calls(n) for n in seen], runs.catalog, "2026-10")
    [single] = [i for i in reference_invoices(calls(seen[-1]), runs.catalog, "2026-10")
                if i["customer_id"] == "acme"]  # fmt: skip

    assert [compared(d) for d in product] == [compared(d) for d in expected["acme"]]
    if seen == sorted(seen):  # usage corrected down may leave the period's invoice negative
        assert sum(D(d["total"]) for d in product) == D(single["total"])
