"""What a partner is owed for one finalized period: a line per document of its customers.

Only finalized documents are read: the period's invoices, the adjustment lines they carry for
earlier periods and the credit notes issued with them. So a statement, once made, never
changes, and a later correction of an earlier period reaches the partner in the statement of
the period that carries it, as an `adjustment` or a `credit_note` line. Whether the partner
earns on an amount depends on the period it was billed *for* (an adjustment's: the corrected
period), which must fall within the dates the partner brought the customer for. Each line is
its basis times the share, rounded like an invoice line (docs/partners.md). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing_dagster.catalog.model import Partner
from billing_dagster.invoicing.assemble import money_text, round_money
from billing_dagster.invoicing.documents import CreditNote, Invoice, LineDifference
from billing_dagster.periods import period_bounds

#: The lines of the `subtotal` basis: the charges, before tax and credits.
SUBTOTAL_KINDS = ("fixed_fee", "usage", "minimum_commitment", "discount")


@dataclass(frozen=True)
class StatementLine:
    partner_id: str
    period: str  # the finalized period whose documents the statement reads
    customer_id: str
    document_id: str
    document_kind: str  # invoice | adjustment | credit_note
    for_period: str  # the period the amount was billed for
    currency: str
    basis: Decimal  # signed: a credit note's is negative
    share: Decimal
    amount: Decimal


def statement_lines(
    partner: Partner, period: str, invoices: list[Invoice], notes: list[CreditNote]
) -> list[StatementLine]:
    """The partner's lines for `period`, in document order; amounts of zero left out."""
    lines: list[StatementLine] = []

    def add(document: dict, kind: str, for_period: str, basis: Decimal) -> None:
        customer = document["customer_id"]
        if basis and brought(partner, customer, for_period):
            document_id = document.get("invoice_id") or document["credit_note_id"]
            amount = round_money(basis * partner.share, document["currency"])
            lines.append(
                StatementLine(
                    partner.id,
                    period,
                    customer,
                    document_id,
                    kind,
                    for_period,
                    document["currency"],
                    basis,
                    partner.share,
                    amount,
                )
            )

    for invoice in invoices:
        own = [line for line in invoice["lines"] if line["kind"] != "adjustment"]
        add(invoice, "invoice", period, _sum(line["amount"] for line in _basis_lines(partner, own)))
        for line in invoice["lines"]:
            if line["kind"] == "adjustment":
                change = _change(partner, line.get("details") or [], Decimal(line["amount"]))
                add(invoice, "adjustment", line["code"], change)
    for note in notes:
        change = _change(partner, note["lines"], -Decimal(note["total"]))
        add(note, "credit_note", note["adjusts_period"], change)
    return lines


def brought(partner: Partner, customer: str, period: str) -> bool:
    """Whether the partner brought `customer` for any day of `period`."""
    first, following = period_bounds(period)
    return any(
        c.customer == customer and c.start < following and (c.end is None or c.end >= first)
        for c in partner.customers
    )


def _basis_lines(partner: Partner, lines: list[dict]) -> list[dict]:
    if partner.basis == "total":
        return lines
    return [line for line in lines if line["kind"] in SUBTOTAL_KINDS]


def _change(partner: Partner, differences: list[LineDifference], total: Decimal) -> Decimal:
    """How much a correction moved the basis of the period it corrects: its signed total for
    `total`; for `subtotal`, what changed in that period's charges."""
    if partner.basis == "total":
        return total
    return _sum(
        Decimal(d["amount_corrected"]) - Decimal(d["amount_billed"])
        for d in differences
        if d["kind"] in SUBTOTAL_KINDS
    )


def _sum(amounts) -> Decimal:
    return sum((Decimal(a) for a in amounts), Decimal(0))


def statements_json(period: str, lines: list[StatementLine]) -> list[dict]:
    """Per partner, its lines and its total per currency, amounts as decimal text."""
    partners: dict[str, dict] = {}
    for line in lines:
        statement = partners.setdefault(
            line.partner_id,
            {"partner_id": line.partner_id, "period": period, "totals": {}, "lines": []},
        )
        total = Decimal(statement["totals"].get(line.currency, "0")) + line.amount
        statement["totals"][line.currency] = money_text(total, line.currency)
        statement["lines"].append(
            {
                "customer_id": line.customer_id,
                "document_id": line.document_id,
                "document_kind": line.document_kind,
                "for_period": line.for_period,
                "currency": line.currency,
                "basis": money_text(line.basis, line.currency),
                "share": f"{line.share.normalize():f}",
                "amount": money_text(line.amount, line.currency),
            }
        )
    return list(partners.values())
