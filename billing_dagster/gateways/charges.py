"""An invoice as positive charges, for gateways that take no negative line (Chargebee's
one-off charges, Razorpay's line items).

Our discounts and prepaid credits are negative lines. Such a gateway gets our positive lines in
our order, each less its share of the negative lines: the negative amounts are taken from the
first positive lines on, each down to zero at most, and the line's description names what was
taken ("less discount 10.00; less prepaid credit g1 30.01"). Lines left at zero are not sent.
So the gateway's total is exactly ours, in whole minor units, and every deduction is visible
on the line it reduced (docs/gateways.md, "Lines without negative amounts").
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_dagster.gateways.base import GatewayError, minor_units
from billing_dagster.gateways.describe import MAX_DESCRIPTION, line_description, line_title
from billing_dagster.gateways.ledger import from_minor
from billing_dagster.invoicing.documents import Invoice

_DEDUCTION_NAMES = {
    "discount": "discount",
    "credit": "prepaid credit",
    "interim_invoiced": "interim invoices",
}


@dataclass(frozen=True)
class Charge:
    amount_minor: int
    title: str
    description: str


def positive_charges(invoice: Invoice) -> list[Charge]:
    """The invoice's lines as positive charges summing to its total; refuses a negative total,
    which no such gateway can invoice (the credit note is the instrument for it)."""
    currency = invoice["currency"]
    amounts = [minor_units(line["amount"], currency) for line in invoice["lines"]]
    if sum(amounts) < 0:
        raise GatewayError(
            f"invoice {invoice['invoice_id']} totals {invoice['total']} {currency}, below zero: "
            f"this gateway takes no negative invoice; correct it with a credit note instead"
        )
    remaining = [max(amount, 0) for amount in amounts]
    notes: list[list[str]] = [[] for _ in amounts]
    # The total is not negative, so the positive lines absorb every negative one.
    for line, amount in zip(invoice["lines"], amounts, strict=True):
        owed = -amount
        for target in range(len(remaining)):
            if owed <= 0:
                break
            taken = min(owed, remaining[target])
            if taken:
                remaining[target] -= taken
                owed -= taken
                notes[target].append(f"less {_deduction(line)} {from_minor(taken, currency)}")
    return [
        Charge(
            remaining[n], line_title(line), _described(line_description(line, currency), notes[n])
        )
        for n, line in enumerate(invoice["lines"])
        if remaining[n] > 0
    ]


def _deduction(line: dict) -> str:
    name = _DEDUCTION_NAMES.get(line["kind"], line["kind"])
    return f"{name} {line['code']}" if line["kind"] == "credit" and line.get("code") else name


def _described(text: str, notes: list[str]) -> str:
    if not notes:
        return text
    suffix = f" ({'; '.join(notes)})"
    return text[: MAX_DESCRIPTION - len(suffix)] + suffix
