"""Partner statements against an independent reference, on random partners and documents:
every line and every total to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dagster.catalog.model import Partner, PartnerCustomer
from billing_dagster.partners.statements import statement_lines, statements_json

PERIOD = "2026-11"
CUSTOMERS = ("acme", "globex", "initech")
KINDS = ("fixed_fee", "usage", "minimum_commitment", "discount", "tax", "credit")
CHARGES = {"fixed_fee", "usage", "minimum_commitment", "discount"}


def reference_round(value: Fraction, digits: int) -> Fraction:
    """Half away from zero, on exact fractions."""
    scaled = abs(value) * 10**digits
    whole = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    return Fraction(whole * (1 if value >= 0 else -1), 10**digits)


def reference(partner: Partner, invoices: list[dict], notes: list[dict]) -> dict:
    """{(document id, kind, for period): amount}, computed without the module's code."""
    digits = {"USD": 2, "JPY": 0}

    def counts(customer: str, period: str) -> bool:
        year, month = int(period[:4]), int(period[5:7])
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1)
        return any(
            c.customer == customer and c.start < last and (c.end is None or c.end >= first)
            for c in partner.customers
        )

    def share(amount: Fraction, currency: str) -> Fraction:
        return reference_round(amount * Fraction(partner.share), digits[currency])

    found = {}
    for invoice in invoices:
        currency, customer = invoice["currency"], invoice["customer_id"]
        own = Fraction(0)
        for line in invoice["lines"]:
            if line["kind"] == "adjustment":
                if partner.basis == "total":
                    change = Fraction(line["amount"])
                else:
                    change = sum(
                        (
                            Fraction(d["amount_corrected"]) - Fraction(d["amount_billed"])
                            for d in line["details"]
                            if d["kind"] in CHARGES
                        ),
                        Fraction(0),
                    )
                if change and counts(customer, line["code"]):
                    found[(invoice["invoice_id"], "adjustment", line["code"])] = share(
                        change, currency
                    )
            elif partner.basis == "total" or line["kind"] in CHARGES:
                own += Fraction(line["amount"])
        if own and counts(customer, PERIOD):
            found[(invoice["invoice_id"], "invoice", PERIOD)] = share(own, currency)
    for note in notes:
        if partner.basis == "total":
            change = -Fraction(note["total"])
        else:
            change = sum(
                (
                    Fraction(d["amount_corrected"]) - Fraction(d["amount_billed"])
                    for d in note["lines"]
                    if d["kind"] in CHARGES
                ),
                Fraction(0),
            )
        if change and counts(note["customer_id"], note["adjusts_period"]):
            found[(note["credit_note_id"], "credit_note", note["adjusts_period"])] = share(
                change, note["currency"]
            )
    return found


def amounts(currency: str):
    places = 2 if currency == "USD" else 0
    return st.integers(-50_000, 200_000).map(lambda n: f"{Decimal(n).scaleb(-places):f}")


@st.composite
def differences(draw, currency: str) -> list[dict]:
    return [
        {
            "kind": draw(st.sampled_from(KINDS)),
            "code": None,
            "group": None,
            "subscription_id": None,
            "quantity_billed": None,
            "quantity_corrected": None,
            "amount_billed": draw(amounts(currency)),
            "amount_corrected": draw(amounts(currency)),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]


@st.composite
def documents(draw) -> tuple[list[dict], list[dict]]:
    invoices, notes = [], []
    for customer in CUSTOMERS:
        currency = draw(st.sampled_from(["USD", "JPY"]))
        lines = [
            {"kind": draw(st.sampled_from(KINDS)), "code": "x", "amount": draw(amounts(currency))}
            for _ in range(draw(st.integers(0, 5)))
        ]
        for _ in range(draw(st.integers(0, 2))):
            details = draw(differences(currency))
            lines.append(
                {
                    "kind": "adjustment",
                    "code": draw(st.sampled_from(["2026-08", "2026-09", "2026-10"])),
                    "amount": draw(amounts(currency)),
                    "details": details,
                }
            )
        invoices.append(
            {
                "invoice_id": f"INV-{PERIOD}-{customer}",
                "customer_id": customer,
                "currency": currency,
                "lines": lines,
            }
        )
        if draw(st.booleans()):
            adjusted = draw(st.sampled_from(["2026-09", "2026-10"]))
            notes.append(
                {
                    "credit_note_id": f"CN-{PERIOD}-{customer}-{adjusted}",
                    "customer_id": customer,
                    "adjusts_period": adjusted,
                    "currency": currency,
                    "lines": draw(differences(currency)),
                    "total": draw(amounts(currency)).lstrip("-"),
                }
            )
    return invoices, notes


@st.composite
def partners(draw) -> Partner:
    brought = []
    for customer in draw(st.lists(st.sampled_from(CUSTOMERS), unique=True, max_size=3)):
        start = date(2026, draw(st.integers(7, 12)), draw(st.integers(1, 28)))
        end = draw(st.one_of(st.none(), st.dates(start, date(2027, 3, 1))))
        brought.append(PartnerCustomer(customer, start, end))
    share = Decimal(draw(st.integers(1, 10_000))).scaleb(-4)
    return Partner(
        "p1", "Partner", share, tuple(brought), draw(st.sampled_from(["subtotal", "total"]))
    )


@settings(max_examples=300, deadline=None)
@given(partner=partners(), docs=documents())
def test_statements_equal_the_reference_to_the_cent(partner, docs):
    invoices, notes = docs
    lines = statement_lines(partner, PERIOD, invoices, notes)
    assert {(x.document_id, x.document_kind, x.for_period): Fraction(x.amount) for x in lines} == {
        key: value for key, value in reference(partner, invoices, notes).items()
    }
    for statement in statements_json(PERIOD, lines):
        for currency, total in statement["totals"].items():
            assert Decimal(total) == sum(
                (x.amount for x in lines if x.currency == currency), Decimal(0)
            )
