"""The documents billing produces, typed: invoices, their lines and credit notes, exactly the
JSON of CONTRACT.md §4 (and docs/invoicing.md for adjustments and credit notes).

Amounts are computed as `Decimal` and become decimal text once, rounded to the currency,
when a line or a total is made (`money_text`); from there on a document is what is stored,
printed and synced, and code that sums it reads the text back as `Decimal`.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

LineKind = Literal[
    "fixed_fee",
    "usage",
    "minimum_commitment",
    "discount",
    "interim_invoiced",
    "tax",
    "credit",
    "adjustment",
]


class TierAmount(TypedDict):
    """How one tier of a usage line is priced (exact, unrounded)."""

    tier: int
    units: str
    unit_price: str
    flat_fee: str
    amount: str


class LineDifference(TypedDict):
    """A line whose quantity or amount differs between the billed and the corrected version
    of a finalized invoice."""

    kind: LineKind
    code: str | None
    group: str | None
    subscription_id: str | None
    quantity_billed: str | None
    quantity_corrected: str | None
    amount_billed: str
    amount_corrected: str


class InvoiceLine(TypedDict):
    kind: LineKind
    code: str | None
    amount: str
    group: NotRequired[str | None]
    # Lines of a subscription (fees, usage, minimum commitment, discounts):
    plan: NotRequired[str]
    plan_version: NotRequired[int]
    subscription_id: NotRequired[str]
    quantity: NotRequired[str]
    active_days: NotRequired[int]  # fixed fees, prorated over the period's days
    period_days: NotRequired[int]
    tiers: NotRequired[list[TierAmount]]  # usage
    amount_to_date: NotRequired[str]  # usage lines of an interim invoice
    interim_invoices: NotRequired[list[str]]  # the interim_invoiced line of a final invoice
    # Adjustment lines, for a finalized period whose data changed:
    adjusts_invoice: NotRequired[str]
    billed_total: NotRequired[str]
    corrected_total: NotRequired[str]
    details: NotRequired[list[LineDifference]]


class Invoice(TypedDict):
    invoice_id: str
    customer_id: str
    period: str
    # A customer off UTC (docs/invoicing.md, "Time zones"): its zone and the period's bounds.
    timezone: NotRequired[str]
    period_start: NotRequired[str]  # local, with its offset: 2026-10-01T00:00:00-07:00
    period_end: NotRequired[str]
    period_start_utc: NotRequired[str]  # 2026-10-01T07:00:00Z
    period_end_utc: NotRequired[str]
    currency: str
    status: str  # draft, finalized (and void, as shown once voided)
    lines: list[InvoiceLine]
    charges: str
    subtotal: str
    discount: str
    tax: str
    credits_applied: str
    adjustments: str
    total: str
    plan_versions: list[str]
    #: Threshold invoicing: an interim invoice's number in its period, and on the period's
    #: final invoice the subtotal its interim invoices billed (deducted before tax).
    interim: NotRequired[int]
    interim_invoiced: NotRequired[str]


class CreditNote(TypedDict):
    credit_note_id: str
    customer_id: str
    period: str  # the period whose invoices it is issued with
    adjusts_period: str
    adjusts_invoice: str
    currency: str
    status: str
    billed_total: str
    corrected_total: str
    lines: list[LineDifference]
    total: str
    #: A refund (invoicing/refunds.py) says so, where the money goes and why.
    kind: NotRequired[Literal["refund"]]
    refund_to: NotRequired[Literal["payment", "credit"]]
    reason: NotRequired[str]
