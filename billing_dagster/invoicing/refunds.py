"""Refunds: a credit note against a finalized, paid invoice, returning money to the payment
or to the customer's balance on the gateway (docs/invoicing.md, "Refunds").

A refund is a document of its own, immutable once issued, in the append-only `refunds`
table; the gateway sync sends it like any credit note, exactly once. What may be refunded is
what was paid, less what was already credited on that invoice (earlier refunds and the
credit notes of corrections): `refundable()` is that rule, pure, property-tested. Issuing the
same refund again (same invoice, amount, reason and destination) returns the first one, so
a retried command never refunds twice; the CLI holds the `refunds` lock so two commands at
once are checked in turn.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import CURRENCY_MINOR_UNITS
from billing_dagster.gateways.ledger import holding_gateways
from billing_dagster.invoicing.assemble import money_text
from billing_dagster.invoicing.documents import CreditNote
from billing_dagster.invoicing.store import finalized_documents, invoice_json
from billing_dagster.invoicing.voids import voids

DESTINATIONS = ("payment", "credit")
#: Gateways that keep no customer balance to credit.
NO_BALANCE = ("razorpay",)


class RefundRefused(ValueError):
    """The refund cannot be issued; the message says why and what to do."""


@dataclass(frozen=True)
class PaidInvoice:
    invoice_id: str
    customer_id: str
    period: str
    currency: str
    total: Decimal
    gateway: str  # where it was synced ("" if never)
    status: str  # the payment status last pulled from the gateway ("" if never)


def refundable(paid: Decimal, credited: list[Decimal]) -> Decimal:
    """What may still be refunded: what was paid less everything credited on the invoice."""
    return max(paid - sum(credited, Decimal(0)), Decimal(0))


def check_refund(
    invoice_id: str, currency: str, paid: Decimal, credited: list[Decimal], amount: Decimal
) -> None:
    """Refuses a refund of `amount` that would bring the credits above what was paid."""
    left = refundable(paid, credited)
    if amount > left:
        raise RefundRefused(
            f"invoice {invoice_id} was paid {money_text(paid, currency)} {currency} and "
            f"{money_text(paid - left, currency)} of it is already credited or refunded: at "
            f"most {money_text(left, currency)} can be refunded"
        )


def parse_amount(text: str, currency: str) -> Decimal:
    """A refund amount: a positive decimal in whole minor units of the currency."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    digits = CURRENCY_MINOR_UNITS[currency]
    if amount is None or not amount.is_finite() or amount <= 0:
        raise RefundRefused(f"--amount {text!r}: expected a positive amount such as 30.00")
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise RefundRefused(f"--amount {text}: {currency} amounts have {digits} decimals at most")
    return amount


def issue_refund(
    client: Client, database: str, invoice_id: str, amount_text: str, reason: str, to: str
) -> CreditNote:
    """The refund of `amount_text` on `invoice_id`, issued once (a repeat returns it)."""
    if not reason.strip():
        raise RefundRefused("--reason is empty: say why the money is returned")
    invoice = _paid_invoice(client, database, invoice_id)
    amount = parse_amount(amount_text, invoice.currency)
    refund_id = _refund_id(invoice_id, money_text(amount, invoice.currency), reason, to)
    earlier = refunds(client, database, invoice_ids=[invoice_id])
    if any(r["credit_note_id"] == refund_id for r in earlier):
        return next(r for r in earlier if r["credit_note_id"] == refund_id)
    if to == "credit" and invoice.gateway in NO_BALANCE:
        raise RefundRefused(
            f"invoice {invoice_id} is on {invoice.gateway}, which keeps no customer balance to "
            f"credit: refund it to the payment (--to payment)"
        )
    credited = [Decimal(r["total"]) for r in earlier] + _corrections(client, database, invoice_id)
    check_refund(invoice_id, invoice.currency, invoice.total, credited, amount)
    note: CreditNote = {
        "credit_note_id": refund_id,
        "customer_id": invoice.customer_id,
        "period": invoice.period,
        "adjusts_period": invoice.period,
        "adjusts_invoice": invoice_id,
        "currency": invoice.currency,
        "status": "finalized",
        "billed_total": money_text(invoice.total, invoice.currency),
        "corrected_total": money_text(invoice.total - amount, invoice.currency),
        "lines": [],
        "total": money_text(amount, invoice.currency),
        "kind": "refund",
        "refund_to": to,
        "reason": reason,
    }
    client.insert(
        f"`{database}`.refunds",
        [
            [
                refund_id,
                invoice_id,
                invoice.customer_id,
                invoice.period,
                invoice.currency,
                amount,
                to,
                reason,
                invoice_json(note),
                datetime.now(UTC),
            ]
        ],
        column_names=[
            "refund_id",
            "invoice_id",
            "customer_id",
            "period",
            "currency",
            "amount",
            "refund_to",
            "reason",
            "document",
            "issued_at",
        ],
    )
    return note


def refunds(
    client: Client,
    database: str,
    period: str | None = None,
    invoice_ids: list[str] | None = None,
) -> list[CreditNote]:
    """The refunds issued on the invoices of `period` (or of `invoice_ids`), in order."""
    where, parameters = [], {}
    if period is not None:
        where.append("period = {period:String}")
        parameters["period"] = period
    if invoice_ids is not None:
        where.append("invoice_id IN {ids:Array(String)}")
        parameters["ids"] = invoice_ids
    rows = client.query(
        f"SELECT any(document) FROM `{database}`.refunds "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} "
        f"GROUP BY refund_id ORDER BY min(issued_at), refund_id",
        parameters=parameters,
    ).result_rows
    return [json.loads(document) for (document,) in rows]


def _refund_id(invoice_id: str, amount: str, reason: str, to: str) -> str:
    """The same request makes the same id: a retried command finds its refund."""
    digest = hashlib.sha256(json.dumps([invoice_id, amount, reason, to]).encode()).hexdigest()
    return f"RF-{invoice_id}-{digest[:10]}"


def _paid_invoice(client: Client, database: str, invoice_id: str) -> PaidInvoice:
    rows = client.query(
        f"SELECT d.customer_id, d.period, d.currency, d.total, "
        f"  (SELECT argMax(status, fetched_at) FROM `{database}`.invoice_statuses "
        f"   WHERE document_id = {{id:String}}) "
        f"FROM {finalized_documents(database)} "
        f"WHERE d.document_kind = 'invoice' AND d.document_id = {{id:String}} LIMIT 1",
        parameters={"id": invoice_id},
    ).result_rows
    if not rows:
        raise RefundRefused(
            f'no finalized invoice "{invoice_id}": only a finalized, paid invoice can be '
            f"refunded (`billing invoices --period YYYY-MM` lists a period's invoices)"
        )
    gateway = holding_gateways(client, database, [invoice_id]).get(invoice_id, "")
    customer_id, period, currency, total, status = rows[0]
    invoice = PaidInvoice(invoice_id, customer_id, period, currency, total, gateway, status)
    if invoice_id in voids(client, database, [invoice_id]):
        raise RefundRefused(f"invoice {invoice_id} is void: nothing was paid to refund")
    if invoice.status != "paid":
        state = (
            f"its gateway reports it {invoice.status}" if invoice.status else "no payment recorded"
        )
        raise RefundRefused(
            f"invoice {invoice_id} is not paid ({state}): a refund returns money received. "
            f"If it was paid since, pull the payment status (`payment_status_job`) first"
        )
    return invoice


def _corrections(client: Client, database: str, invoice_id: str) -> list[Decimal]:
    """The totals of the finalized correction credit notes on the invoice."""
    rows = client.query(
        f"SELECT any(d.total) FROM {finalized_documents(database)} "
        f"WHERE d.document_kind = 'credit_note' "
        f"AND JSONExtractString(d.document, 'adjusts_invoice') = {{id:String}} "
        f"GROUP BY d.document_id",
        parameters={"id": invoice_id},
    ).result_rows
    return [Decimal(total) for (total,) in rows]
