"""Late data for a finalized period: the difference between what was billed and what the
corrected data says, carried by the next open period (docs/invoicing.md, "Finalization").

A finalized invoice never changes. When events of a finalized period arrive late or are
corrected, the period is re-rated, and so is every later finalized period whose credit
balances the correction may change; per customer, the corrected invoice is compared with
the last billed version of that period (the finalized invoice, or the corrected invoice an
earlier, finalized adjustment was computed from). Only the period's own charges are
compared: adjustment lines a finalized invoice carried for earlier periods are not its
own. A positive difference is an `adjustment` line on the customer's invoice of the
carrying period; a negative one is a credit note. Either way the sum over invoices, less
credit notes, equals what the corrected data says. Pure: unit-tested without a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing_dagster.invoicing.assemble import ZERO, money_text
from billing_dagster.invoicing.documents import CreditNote, Invoice, InvoiceLine, LineDifference

#: What identifies "the same line" in two versions of one invoice.
_LINE_KEY = ("kind", "code", "group", "subscription_id")


@dataclass(frozen=True)
class Correction:
    """A customer's finalized period whose corrected invoice differs from what was billed."""

    customer_id: str
    adjusted_period: str
    currency: str
    billed: Invoice | None  # the last billed version; None if the period had no invoice
    corrected: Invoice | None  # the re-rated invoice; None if it no longer has one

    @property
    def difference(self) -> Decimal:
        return own_total(self.corrected) - own_total(self.billed)


def corrections(
    adjusted_period: str, billed: dict[str, Invoice], corrected: dict[str, Invoice]
) -> list[Correction]:
    """Customers of `adjusted_period` whose corrected total differs from the billed one."""
    found = []
    for customer in sorted(billed.keys() | corrected.keys()):
        before, after = billed.get(customer), corrected.get(customer)
        currency = (after or before)["currency"]
        correction = Correction(customer, adjusted_period, currency, before, after)
        if correction.difference:
            found.append(correction)
    return found


def adjustment_line(correction: Correction) -> InvoiceLine:
    """The line a positive correction adds to the carrying invoice (after tax and credits:
    the difference already includes the adjusted period's own tax and credits)."""
    return {
        "kind": "adjustment",
        "code": correction.adjusted_period,
        "group": None,
        "adjusts_invoice": _invoice_id(correction),
        "billed_total": _total_text(correction.billed, correction.currency),
        "corrected_total": _total_text(correction.corrected, correction.currency),
        "amount": money_text(correction.difference, correction.currency),
        "details": line_differences(correction.billed, correction.corrected),
    }


def credit_note(correction: Correction, carrier_period: str) -> CreditNote:
    """The credit note a negative correction issues with the carrying period's invoices."""
    return {
        "credit_note_id": f"CN-{carrier_period}-{correction.customer_id}-"
        f"{correction.adjusted_period}",
        "customer_id": correction.customer_id,
        "period": carrier_period,
        "adjusts_period": correction.adjusted_period,
        "adjusts_invoice": _invoice_id(correction),
        "currency": correction.currency,
        "status": "draft",
        "billed_total": _total_text(correction.billed, correction.currency),
        "corrected_total": _total_text(correction.corrected, correction.currency),
        "lines": line_differences(correction.billed, correction.corrected),
        "total": money_text(-correction.difference, correction.currency),
    }


def with_adjustments(
    drafts: list[Invoice], adjustments: list[Correction], carrier_period: str
) -> list[Invoice]:
    """The carrying period's invoices with their adjustment lines; a customer with no invoice
    in the carrying period gets one holding only its adjustments."""
    by_customer = {invoice["customer_id"]: invoice for invoice in drafts}
    for correction in adjustments:
        invoice = by_customer.get(correction.customer_id)
        if invoice is None:
            invoice = by_customer[correction.customer_id] = _adjustment_only_invoice(
                correction, carrier_period
            )
        invoice["lines"].append(adjustment_line(correction))
        added = Decimal(invoice["adjustments"]) + correction.difference
        invoice["adjustments"] = money_text(added, correction.currency)
        total = Decimal(invoice["total"]) + correction.difference
        invoice["total"] = money_text(total, correction.currency)
    return [by_customer[customer] for customer in sorted(by_customer)]


def line_differences(billed: Invoice | None, corrected: Invoice | None) -> list[LineDifference]:
    """The lines whose quantity or amount differ between two versions of an invoice."""
    before = _lines_by_key(billed)
    after = _lines_by_key(corrected)
    differences = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: tuple(str(p) for p in k)):
        old, new = before.get(key, {}), after.get(key, {})
        if (old.get("quantity"), old.get("amount")) == (new.get("quantity"), new.get("amount")):
            continue
        kind, code, group, subscription = key
        differences.append(
            LineDifference(
                kind=kind,
                code=code,
                group=group,
                subscription_id=subscription,
                quantity_billed=old.get("quantity"),
                quantity_corrected=new.get("quantity"),
                amount_billed=old.get("amount", "0"),
                amount_corrected=new.get("amount", "0"),
            )
        )
    return differences


def _lines_by_key(invoice: Invoice | None) -> dict[tuple, InvoiceLine]:
    lines: dict[tuple, InvoiceLine] = {}
    for line in invoice["lines"] if invoice else []:
        if line["kind"] != "adjustment":  # carried for an earlier period, not this one's own
            lines[tuple(line.get(name) for name in _LINE_KEY)] = line
    return lines


def _adjustment_only_invoice(correction: Correction, period: str) -> Invoice:
    zero = money_text(ZERO, correction.currency)
    return {
        "invoice_id": f"INV-{period}-{correction.customer_id}",
        "customer_id": correction.customer_id,
        "period": period,
        "currency": correction.currency,
        "status": "draft",
        "lines": [],
        **{name: zero for name in ("charges", "subtotal", "discount", "tax")},
        "credits_applied": zero,
        "adjustments": zero,
        "total": zero,
        "plan_versions": [],
    }


def _invoice_id(correction: Correction) -> str:
    return f"INV-{correction.adjusted_period}-{correction.customer_id}"


def own_total(invoice: Invoice | None) -> Decimal:
    """What an invoice bills for its own period: its total less the adjustments it carried
    for earlier periods (those belong to the periods they adjust)."""
    if invoice is None:
        return ZERO
    return Decimal(invoice["total"]) - Decimal(invoice.get("adjustments", "0"))


def _total_text(invoice: Invoice | None, currency: str) -> str:
    return money_text(own_total(invoice), currency)
