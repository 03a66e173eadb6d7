"""Finalized invoices and credit notes written straight into the warehouse, for tests of the
gateway sync that need documents but not the whole billing pipeline."""

from __future__ import annotations

import uuid
from decimal import Decimal

from billing_dagster.invoicing.store import commit_finalization


def usage(code: str, quantity: str, amount: str, tiers: list[tuple], group=None) -> dict:
    return {
        "kind": "usage",
        "code": code,
        "group": group,
        "plan": "pro",
        "plan_version": 1,
        "quantity": quantity,
        "amount": amount,
        "tiers": [
            dict(zip(("tier", "units", "unit_price", "flat_fee", "amount"), t, strict=True))
            for t in tiers
        ],
    }


def line(kind: str, amount: str, code=None, **more) -> dict:
    return {"kind": kind, "code": code, "amount": amount} | more


def invoice(customer: str, period: str, currency: str, lines: list[dict]) -> dict:
    total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    return {
        "invoice_id": f"INV-{period}-{customer}",
        "customer_id": customer,
        "period": period,
        "currency": currency,
        "status": "finalized",
        "lines": lines,
        "total": f"{total:f}",
    }


def three_currencies(period: str = "2026-10") -> list[dict]:
    """USD with tiers, discount, tax and credit; EUR with an adjustment; JPY (no decimals)."""
    fee = line("fixed_fee", "49.00", "platform", plan="pro", plan_version=1, quantity="1")
    fee |= {"active_days": 31, "period_days": 31}
    return [
        invoice(
            "acme",
            period,
            "USD",
            [
                fee,
                usage(
                    "api_calls",
                    "186",
                    "14.60",
                    [(1, "50", "0", "0", "0.00"), (2, "136", "0.10", "1.00", "14.60")],
                ),
                usage("tokens", "120000", "3.60", [(1, "120000", "0.00003", "0", "3.60")], "gpt"),
                line("minimum_commitment", "32.80"),
                line("discount", "-10.00"),
                line("tax", "18.00"),
                line("credit", "-30.01", "g1"),
            ],
        ),
        invoice(
            "globex",
            period,
            "EUR",
            [
                usage("api_calls", "3", "0.01", [(1, "3", "0.0033", "0", "0.01")]),
                line("tax", "0.00"),
                line(
                    "adjustment",
                    "2.35",
                    "2026-09",
                    adjusts_invoice="INV-2026-09-globex",
                    billed_total="10.00",
                    corrected_total="12.35",
                ),
            ],
        ),
        invoice(
            "initech",
            period,
            "JPY",
            [
                usage("api_calls", "1234", "1851", [(1, "1234", "1.5", "0", "1851")]),
                line("tax", "185"),
            ],
        ),
    ]


def write_finalized(client, database: str, period: str, invoices: list[dict], notes=()) -> None:
    """Store documents as the finalization of `period` (a billing run of their own)."""
    documents = [("invoice", i["invoice_id"], i) for i in invoices] + [
        ("credit_note", n["credit_note_id"], n) for n in notes
    ]
    commit_finalization(client, database, period, uuid.uuid4().hex, documents, 0)
