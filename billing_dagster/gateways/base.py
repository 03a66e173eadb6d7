"""The gateway interface: what the sync asks of Stripe, Chargebee, Razorpay, a file directory
or any other gateway.

The interface is deliberately fine-grained (find and create each object on its own): the sync
(`sync.py`) owns exactly-once, by recording every step in the ledger and looking each object
up before creating it, so a gateway only has to translate documents and report errors as
`TransientGatewayError` (worth retrying) or `GatewayError` (a problem to fix).

Two shapes of gateway: Stripe and the file gateway build an invoice as a draft, line by line
(`create_invoice`, then `create_line` for each line); Chargebee and Razorpay take the invoice
whole in one request (`whole_documents = True`: `create_invoice` sends every line, and
`find_lines`/`create_line` are never called).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from billing_dagster.catalog.model import CURRENCY_MINOR_UNITS
from billing_dagster.invoicing.documents import CreditNote, Invoice

#: The payment statuses a gateway reports back (docs/gateways.md).
STATUSES = ("draft", "open", "paid", "void", "uncollectible")

#: Days a customer has to pay a sent invoice (Stripe's `days_until_due`); after them an
#: invoice still open is past due (entitlements/blocks.py).
PAYMENT_TERMS_DAYS = 30

#: A dispute as ours (docs/gateways.md, Disputes): still open (awaiting evidence or a
#: decision), or decided for us (won) or for the cardholder (lost).
DISPUTE_STATUSES = ("opened", "won", "lost")


class GatewayError(Exception):
    """A gateway refused a request; retrying the same request cannot succeed."""


class TransientGatewayError(GatewayError):
    """Rate limit, server error or network failure: the same request may succeed later."""


class GatewayAuthenticationError(GatewayError):
    """The gateway refused our credentials: no request can succeed until they are fixed."""


class NotYetRepresentable(GatewayError):
    """The document cannot be sent to this gateway yet, through no fault (a Razorpay credit
    note waits until its invoice is paid, then becomes a refund); the next sync tries again."""


@dataclass(frozen=True)
class RemoteDocument:
    """An invoice or credit note as the gateway holds it."""

    gateway_id: str
    status: str  # one of STATUSES (credit notes: "issued" or "void")
    currency: str
    total_minor: int


@dataclass(frozen=True)
class RemoteLine:
    gateway_id: str
    amount_minor: int


@dataclass(frozen=True)
class RemoteDispute:
    """A dispute of an invoice's payment, as the gateway reports it."""

    gateway_id: str
    status: str  # one of DISPUTE_STATUSES
    gateway_status: str  # the gateway's own word (`needs_response`, `under_review`...)
    currency: str
    amount_minor: int
    reason: str
    opened_at: datetime


def minor_units(amount: str | Decimal, currency: str) -> int:
    """An amount in the currency's minor unit (cents, yen): what gateways store."""
    scaled = Decimal(amount).scaleb(CURRENCY_MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise GatewayError(f"amount {amount} {currency} is not a whole number of minor units")
    return int(scaled)


def reference(our_id: str, limit: int) -> str:
    """Our id in a gateway field of at most `limit` characters (Razorpay's receipt: 40): the
    id itself when it fits, else its start and a digest of the whole, the same on every run."""
    if len(our_id) <= limit:
        return our_id
    digest = hashlib.sha256(our_id.encode()).hexdigest()[:16]
    return f"{our_id[: limit - len(digest) - 1]}~{digest}"


class Gateway(Protocol):
    """One payment gateway. Every `find_*` returns None when the object does not exist;
    every `create_*` creates it once per call, tagged with our ids so `find_*` finds it."""

    name: str
    #: True when `create_invoice` sends every line in the same request (no draft step).
    whole_documents: bool
    #: False when the gateway's API cannot tell of disputes: `fetch_disputes` is never called.
    reports_disputes: bool

    def find_customer(self, customer_id: str) -> str | None: ...

    def create_customer(self, customer_id: str, name: str) -> str: ...

    def erase_customer(self, gateway_customer: str) -> str:
        """Remove the customer's personal data there, keeping its documents (GDPR erasure
        with the retention of invoices); returns what was done, in words."""
        ...

    def find_invoice(self, gateway_customer: str, invoice: Invoice) -> RemoteDocument | None: ...

    def create_invoice(self, gateway_customer: str, invoice: Invoice) -> str: ...

    def find_lines(self, gateway_invoice: str, invoice: Invoice) -> dict[int, RemoteLine]:
        """The invoice's lines on the gateway, by our line number (1-based). This and
        `create_line` only where `whole_documents` is False."""
        ...

    def create_line(
        self, gateway_customer: str, gateway_invoice: str, invoice: Invoice, line_no: int
    ) -> RemoteLine: ...

    def fetch_invoice(self, gateway_invoice: str) -> RemoteDocument: ...

    def fetch_disputes(self, gateway_invoice: str) -> list[RemoteDispute]:
        """Every dispute of the invoice's payments, in any state."""
        ...

    def finalize_invoice(self, gateway_invoice: str) -> RemoteDocument: ...

    def send_invoice(self, gateway_invoice: str) -> None: ...

    def void_invoice(self, gateway_invoice: str) -> None: ...

    def find_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument | None: ...

    def create_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument: ...


class RefusingGateway:
    """A gateway that sends nothing: every request fails with `error_type(reason)`. Stands
    for one whose configuration is incomplete, or one that failed as a whole during a sync."""

    def __init__(
        self, name: str, whole_documents: bool, error_type: type[GatewayError], reason: str
    ):
        self.name, self.whole_documents = name, whole_documents
        self.reports_disputes = True  # so a pull reaches `fetch_disputes`, which is refused
        self._error_type, self._reason = error_type, reason

    def __getattr__(self, method: str):
        def refused(*args, **kwargs):
            raise self._error_type(self._reason)

        return refused
