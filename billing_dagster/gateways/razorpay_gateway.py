"""Razorpay, through the official SDK (2.x).

An invoice is created whole, as a draft with every line (positive amounts only, see
`charges.py`) and a `receipt` derived from our invoice id, then issued. Razorpay has no
idempotency key for invoices: the sync ledger and the look-up by receipt before every create
are the only guards, so a lost response is found again by its receipt. Customers are found by
our id in their notes; the list of customers is read once and kept until a request fails
(the failed one may have created a customer, so the next look-up reads it again).

Razorpay's invoices have no credit notes. A credit note on a paid invoice becomes a refund
of its payment, tagged with our id; on an invoice not paid yet it waits (`NotYetRepresentable`)
and is refunded once the invoice is paid (docs/gateways.md).

The SDK prints to stdout when a request fails, and keeps no HTTP status in its exceptions.
Both are avoided at the `requests.Session` it accepts: every answer is classified there, and a
failure leaves the session as our own exception, which the SDK neither catches nor prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import razorpay
import requests

from billing_dagster.erasure.tombstones import TOMBSTONE
from billing_dagster.gateways.base import (
    GatewayAuthenticationError,
    GatewayError,
    NotYetRepresentable,
    RemoteDispute,
    RemoteDocument,
    TransientGatewayError,
    minor_units,
    reference,
)
from billing_dagster.gateways.charges import positive_charges
from billing_dagster.invoicing.documents import CreditNote, Invoice

T = TypeVar("T")

CUSTOMER_KEY = "billing_customer_id"
INVOICE_KEY = "billing_invoice_id"
CREDIT_NOTE_KEY = "billing_credit_note_id"
#: Razorpay's receipts hold 1 to 40 characters.
MAX_RECEIPT = 40
#: Razorpay's invoice statuses as ours (docs/gateways.md).
STATUSES = {
    "draft": "draft",
    "issued": "open",
    "partially_paid": "open",
    "paid": "paid",
    "cancelled": "void",
    "deleted": "void",
    "expired": "uncollectible",
}
#: Razorpay's decided dispute statuses, as ours; `open` and `under_review` are still open.
#: `closed`: the bank closed it on the merchant's evidence, no money taken: won.
DECIDED_DISPUTES = {"won": "won", "closed": "won", "lost": "lost"}
_PAGE = 100


class RazorpayGateway:
    name = "razorpay"
    whole_documents = True
    reports_disputes = True

    def __init__(
        self, key_id: str, key_secret: str, api_base: str = "", timeout_seconds: float = 30
    ):
        if not key_id or not key_secret:
            raise GatewayError(
                "RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET must both be set: the API key pair of "
                "the Razorpay account"
            )
        options = {"base_url": api_base.rstrip("/")} if api_base else {}
        self._api = razorpay.Client(
            session=_ClassifyingSession(timeout_seconds), auth=(key_id, key_secret), **options
        )
        self._customers: dict[str, str] | None = None  # our id -> Razorpay's, read once

    # -- customers --------------------------------------------------------------------

    def find_customer(self, customer_id: str) -> str | None:
        if self._customers is None:
            self._customers = {}
            for found in self._pages(self._api.customer.all, "listing customers"):
                ours = (found.get("notes") or {}).get(CUSTOMER_KEY)
                if ours is not None:
                    self._customers.setdefault(ours, found["id"])
        return self._customers.get(customer_id)

    def create_customer(self, customer_id: str, name: str) -> str:
        created = self._call(
            lambda: self._api.customer.create(
                {"name": name or customer_id, "notes": {CUSTOMER_KEY: customer_id}}
            ),
            f"creating customer {customer_id}",
        )
        if self._customers is not None:
            self._customers[customer_id] = created["id"]
        return created["id"]

    def erase_customer(self, gateway_customer: str) -> str:
        # Razorpay has no erasure request: the customer is edited to hold nothing personal.
        self._call(
            lambda: self._api.customer.edit(
                gateway_customer, {"name": TOMBSTONE, "email": "", "contact": ""}
            ),
            f"erasing customer {gateway_customer}",
        )
        return "name, email and contact redacted"

    # -- invoices ---------------------------------------------------------------------

    def find_invoice(self, gateway_customer: str, invoice: Invoice) -> RemoteDocument | None:
        receipt = reference(invoice["invoice_id"], MAX_RECEIPT)
        for found in self._pages(
            lambda query: self._api.invoice.all(query | {"receipt": receipt}),
            f"finding invoice {invoice['invoice_id']}",
        ):
            if (found.get("notes") or {}).get(INVOICE_KEY) == invoice["invoice_id"]:
                return _document(found)
        return None

    def create_invoice(self, gateway_customer: str, invoice: Invoice) -> str:
        """A draft with all the invoice's lines; `finalize_invoice` issues it."""
        currency = invoice["currency"]
        line_items = [
            {
                "name": charge.title,
                "description": charge.description,
                "amount": charge.amount_minor,
                "currency": currency,
                "quantity": 1,
            }
            for charge in positive_charges(invoice)
        ]
        created = self._call(
            lambda: self._api.invoice.create(
                {
                    "type": "invoice",
                    "draft": "1",
                    "customer_id": gateway_customer,
                    "currency": currency,
                    "receipt": reference(invoice["invoice_id"], MAX_RECEIPT),
                    "description": f"Billing period {invoice['period']}",
                    "line_items": line_items,
                    "notes": {
                        INVOICE_KEY: invoice["invoice_id"],
                        CUSTOMER_KEY: invoice["customer_id"],
                    },
                }
            ),
            f"creating invoice {invoice['invoice_id']}",
        )
        return created["id"]

    def fetch_invoice(self, gateway_invoice: str) -> RemoteDocument:
        return _document(self._invoice(gateway_invoice))

    def finalize_invoice(self, gateway_invoice: str) -> RemoteDocument:
        issued = self._call(
            lambda: self._api.invoice.issue(gateway_invoice), f"issuing invoice {gateway_invoice}"
        )
        return _document(issued)

    def send_invoice(self, gateway_invoice: str) -> None:
        """Issuing sends it: Razorpay notifies the customer by its invoice settings."""

    def void_invoice(self, gateway_invoice: str) -> None:
        self._call(
            lambda: self._api.invoice.cancel(gateway_invoice),
            f"cancelling invoice {gateway_invoice}",
        )

    # -- credit notes, as refunds -----------------------------------------------------

    def find_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument | None:
        payment = self._invoice(gateway_invoice).get("payment_id")
        if not payment:
            return None
        refunds = self._call(
            lambda: self._api.payment.fetch_multiple_refund(payment, {"count": _PAGE}),
            f"listing the refunds of {note['adjusts_invoice']}",
        )
        for refund in refunds.get("items", []):
            if (refund.get("notes") or {}).get(CREDIT_NOTE_KEY) == note["credit_note_id"]:
                return _refund(refund)
        return None

    def create_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument:
        found = self._invoice(gateway_invoice)
        if found["status"] != "paid" or not found.get("payment_id"):
            raise NotYetRepresentable(
                f"credit note {note['credit_note_id']} credits invoice {note['adjusts_invoice']}, "
                f"which is {found['status']} on Razorpay ({gateway_invoice}): Razorpay has no "
                f"credit notes, so it becomes a refund of the payment once the invoice is paid; "
                f"the next sync after that sends it"
            )
        refund = self._call(
            lambda: self._api.payment.refund(
                found["payment_id"],
                {
                    "amount": minor_units(note["total"], note["currency"]),
                    "receipt": reference(note["credit_note_id"], MAX_RECEIPT),
                    "notes": {
                        CREDIT_NOTE_KEY: note["credit_note_id"],
                        INVOICE_KEY: note["adjusts_invoice"],
                    },
                },
            ),
            f"refunding credit note {note['credit_note_id']}",
        )
        return _refund(refund)

    def fetch_disputes(self, gateway_invoice: str) -> list[RemoteDispute]:
        """Those of the account's disputes (`/v1/disputes`, which filters by nothing but
        time) that dispute the invoice's payment."""
        payment = self._invoice(gateway_invoice).get("payment_id")
        if not payment:
            return []
        return [
            _dispute(found)
            for found in self._pages(
                self._api.dispute.all, f"listing the disputes of invoice {gateway_invoice}"
            )
            if found.get("payment_id") == payment
        ]

    # -- requests ---------------------------------------------------------------------

    def _invoice(self, gateway_invoice: str) -> dict:
        return self._call(
            lambda: self._api.invoice.fetch(gateway_invoice), f"fetching invoice {gateway_invoice}"
        )

    def _pages(self, fetch: Callable[[dict], dict], what: str) -> Iterator[dict]:
        skip = 0
        while True:
            page = self._call(lambda skip=skip: fetch({"count": _PAGE, "skip": skip}), what)
            items = page.get("items", [])
            yield from items
            if len(items) < _PAGE:
                return
            skip += len(items)

    def _call(self, request: Callable[[], T], what: str) -> T:
        """One API request, its errors as gateway errors that say what failed and why. After a
        failure the customers read are forgotten: the failed request may have created one."""
        try:
            return request()
        except _Answered as answer:
            self._customers = None
            raise answer.as_gateway_error(what) from answer


class _Answered(Exception):
    """A failed request, as the session saw it: the HTTP status (0: no answer) and why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason

    def as_gateway_error(self, what: str) -> GatewayError:
        if self.status == 0:
            return TransientGatewayError(f"{what}: network error: {self.reason}")
        message = f"{what}: Razorpay answered {self.status}: {self.reason}"
        if self.status == 401:
            return GatewayAuthenticationError(
                f"{what}: Razorpay refused the API key (401): check RAZORPAY_KEY_ID and "
                f"RAZORPAY_KEY_SECRET"
            )
        if self.status == 429 or self.status >= 500:
            return TransientGatewayError(message)
        return GatewayError(message)


class _ClassifyingSession(requests.Session):
    """Raises `_Answered` for every failed request, before the SDK sees (and prints) it."""

    def __init__(self, timeout_seconds: float):
        super().__init__()
        self._timeout = timeout_seconds

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as error:
            raise _Answered(0, type(error).__name__) from error
        if response.status_code >= 400:
            raise _Answered(response.status_code, _description(response))
        return response


def _description(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["description"])
    except (ValueError, KeyError, TypeError):
        return response.reason or "no description"


def _document(invoice: dict) -> RemoteDocument:
    status = STATUSES.get(invoice["status"])
    if status is None:
        raise GatewayError(
            f"Razorpay invoice {invoice['id']} has an unknown status {invoice['status']}"
        )
    return RemoteDocument(invoice["id"], status, invoice["currency"], invoice["amount"])


def _dispute(dispute: dict) -> RemoteDispute:
    return RemoteDispute(
        dispute["id"],
        DECIDED_DISPUTES.get(dispute["status"], "opened"),
        dispute["status"],
        dispute["currency"],
        dispute["amount"],
        dispute.get("reason_code") or "",
        datetime.fromtimestamp(dispute["created_at"], UTC),
    )


def _refund(refund: dict) -> RemoteDocument:
    return RemoteDocument(refund["id"], "issued", refund["currency"], refund["amount"])
