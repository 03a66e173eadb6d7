"""Chargebee, through the official SDK (3.x).

Customers are created with our id as theirs, so a retry finds them by id. An invoice is one
request: `Invoice.create` with every line as a one-off charge (positive amounts only, see
`charges.py`; `taxable: false`, our tax is a line of its own) and our invoice id in
`po_number`; there is no draft step. Chargebee cannot filter invoices on `po_number`, so the
look-up lists the customer's invoices. Every create carries a `chargebee-idempotency-key`
derived from our ids, but Chargebee keeps those for a short window only: the look-up before
each create, not the key, is what makes a retry safe. The SDK's own retries stay off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import chargebee
import httpx

from billing_dagster.gateways.base import (
    GatewayAuthenticationError,
    GatewayError,
    RemoteDispute,
    RemoteDocument,
    TransientGatewayError,
    minor_units,
    reference,
)
from billing_dagster.gateways.charges import positive_charges
from billing_dagster.gateways.describe import credit_note_description
from billing_dagster.invoicing.documents import CreditNote, Invoice

T = TypeVar("T")

IDEMPOTENCY_HEADER = "chargebee-idempotency-key"
#: Chargebee's statuses as ours (docs/gateways.md).
STATUSES = {
    "pending": "draft",
    "posted": "open",
    "payment_due": "open",
    "paid": "paid",
    "not_paid": "uncollectible",
    "voided": "void",
}
#: Limits of Chargebee's fields.
MAX_CUSTOMER_ID, MAX_PO_NUMBER, MAX_CHARGE_DESCRIPTION = 50, 100, 250
#: Chargebee's decided dispute statuses, as ours; `initiated`, `in_review` and
#: `funds_withdrawn` are still open. `cancelled`: the cardholder withdrew it: won.
DECIDED_DISPUTES = {"won": "won", "cancelled": "won", "lost": "lost"}
_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,50}")
#: The marker of our credit note id in the notes of Chargebee's credit note.
CREDIT_NOTE_MARK = "Credit note {}:"


class ChargebeeGateway:
    name = "chargebee"
    whole_documents = True
    reports_disputes = True

    def __init__(self, api_key: str, site: str, api_base: str = "", timeout_seconds: int = 30):
        if not api_key or not site:
            raise GatewayError(
                "CHARGEBEE_API_KEY and CHARGEBEE_SITE must both be set: the full-access key and "
                "the site name (<site>.chargebee.com) of the Chargebee account"
            )
        self._api = chargebee.Chargebee(
            api_key=api_key,
            site=site,
            connection_time_out=timeout_seconds,
            read_time_out=timeout_seconds,
        )
        if api_base:
            if api_base.startswith("http://"):
                # chargebee 3.29: `update_protocol("http")` sets `verify_ca_certs` on the
                # instance, but the HTTP code reads the class attribute, so set it there. It
                # only drops Chargebee's own CA bundle: https URLs are still verified by httpx.
                chargebee.Chargebee.verify_ca_certs = False
                self._api.env.protocol = "http"
            self._api.env.api_endpoint = f"{api_base.rstrip('/')}/api/{self._api.env.API_VERSION}"

    # -- customers --------------------------------------------------------------------

    def find_customer(self, customer_id: str) -> str | None:
        gateway_id = chargebee_customer_id(customer_id)
        try:
            _call(
                lambda: self._api.Customer.retrieve(gateway_id), f"finding customer {customer_id}"
            )
        except _NotFound:
            return None
        return gateway_id

    def create_customer(self, customer_id: str, name: str) -> str:
        gateway_id = chargebee_customer_id(customer_id)
        created = _call(
            lambda: self._api.Customer.create(
                {
                    "id": gateway_id,
                    "company": name,
                    "auto_collection": "off",
                },
                {IDEMPOTENCY_HEADER: f"billing-customer-{gateway_id}"},
            ),
            f"creating customer {customer_id}",
        )
        return created.customer.id

    def erase_customer(self, gateway_customer: str) -> str:
        _call(
            lambda: self._api.Customer.clear_personal_data(gateway_customer),
            f"erasing customer {gateway_customer}",
        )
        return "personal data cleared (clear_personal_data)"

    # -- invoices ---------------------------------------------------------------------

    def find_invoice(self, gateway_customer: str, invoice: Invoice) -> RemoteDocument | None:
        po_number = reference(invoice["invoice_id"], MAX_PO_NUMBER)
        for found in self._pages(
            lambda offset: self._api.Invoice.list(
                _page({"customer_id": {"is": gateway_customer}}, offset)
            ),
            f"listing invoices of {invoice['customer_id']}",
        ):
            if found.invoice.po_number == po_number:
                return _document(found.invoice)
        return None

    def create_invoice(self, gateway_customer: str, invoice: Invoice) -> str:
        """The invoice with all its lines, issued at once (Chargebee has no draft)."""
        charges = [
            {
                "amount": charge.amount_minor,
                "description": charge.description[:MAX_CHARGE_DESCRIPTION],
                "taxable": False,
            }
            for charge in positive_charges(invoice)
        ]
        created = _call(
            lambda: self._api.Invoice.create(
                {
                    "customer_id": gateway_customer,
                    "currency_code": invoice["currency"],
                    "po_number": reference(invoice["invoice_id"], MAX_PO_NUMBER),
                    "auto_collection": "off",
                    "invoice_note": f"Billing period {invoice['period']}",
                    "charges": charges,
                },
                {IDEMPOTENCY_HEADER: f"billing-invoice-{invoice['invoice_id']}"},
            ),
            f"creating invoice {invoice['invoice_id']}",
        )
        return created.invoice.id

    def fetch_invoice(self, gateway_invoice: str) -> RemoteDocument:
        found = _call(
            lambda: self._api.Invoice.retrieve(gateway_invoice),
            f"fetching invoice {gateway_invoice}",
        )
        return _document(found.invoice)

    def finalize_invoice(self, gateway_invoice: str) -> RemoteDocument:
        """Only a `pending` invoice needs it (ours are created posted): `close` posts it."""
        closed = _call(
            lambda: self._api.Invoice.close(gateway_invoice),
            f"closing invoice {gateway_invoice}",
        )
        return _document(closed.invoice)

    def send_invoice(self, gateway_invoice: str) -> None:
        """Chargebee emails invoices by the site's own settings: nothing to request."""

    def void_invoice(self, gateway_invoice: str) -> None:
        _call(
            lambda: self._api.Invoice.void_invoice(
                gateway_invoice,
                {"comment": "voided in billing"},
                {IDEMPOTENCY_HEADER: f"billing-void-{gateway_invoice}"},
            ),
            f"voiding invoice {gateway_invoice}",
        )

    # -- credit notes -----------------------------------------------------------------

    def find_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument | None:
        mark = CREDIT_NOTE_MARK.format(note["credit_note_id"])
        for found in self._pages(
            lambda offset: self._api.CreditNote.list(
                _page({"reference_invoice_id": {"is": gateway_invoice}}, offset)
            ),
            f"listing the credit notes of {note['adjusts_invoice']}",
        ):
            notes = found.credit_note.raw_data.get("notes") or []
            if any(str(text).startswith(mark) for text in notes):
                return self._settled(found.credit_note, note)
        return None

    def create_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument:
        """An adjustment credit note on an unpaid invoice (it lowers what is due); a
        refundable one on a paid invoice (the customer's credit, to apply), refunded to the
        payment when the refund says so."""
        paid = self.fetch_invoice(gateway_invoice).status == "paid"
        mark = CREDIT_NOTE_MARK.format(note["credit_note_id"])
        created = _call(
            lambda: self._api.CreditNote.create(
                {
                    "reference_invoice_id": gateway_invoice,
                    "total": minor_units(note["total"], note["currency"]),
                    "type": "refundable" if paid else "adjustment",
                    "reason_code": "other",
                    "customer_notes": f"{mark} {credit_note_description(note)}",
                },
                {IDEMPOTENCY_HEADER: f"billing-credit-note-{note['credit_note_id']}"},
            ),
            f"creating credit note {note['credit_note_id']}",
        )
        return self._settled(created.credit_note, note)

    def _settled(self, credit_note, note: CreditNote) -> RemoteDocument:
        """A refund to the payment is two requests: the refundable credit note, then its
        refund. A run killed between them leaves the first, and the next run's look-up
        completes it here."""
        owed = (credit_note.total or 0) - (credit_note.amount_refunded or 0)
        if note.get("refund_to") == "payment" and owed > 0:
            credit_note = _call(
                lambda: self._api.CreditNote.refund(
                    credit_note.id,
                    {"refund_amount": owed},
                    {IDEMPOTENCY_HEADER: f"billing-refund-{note['credit_note_id']}"},
                ),
                f"refunding credit note {note['credit_note_id']}",
            ).credit_note
        return _credit_note(credit_note)

    # -- disputes ---------------------------------------------------------------------

    def fetch_disputes(self, gateway_invoice: str) -> list[RemoteDispute]:
        """The disputes of each transaction that paid the invoice (its `linked_payments`)."""
        invoice = _call(
            lambda: self._api.Invoice.retrieve(gateway_invoice),
            f"fetching invoice {gateway_invoice}",
        ).invoice
        return [
            _dispute(found.dispute)
            for payment in invoice.linked_payments or []
            for found in self._pages(
                lambda offset, txn=payment.txn_id: self._api.Dispute.list(
                    _page({"transaction_id": {"is": txn}}, offset)
                ),
                f"listing the disputes of invoice {gateway_invoice}",
            )
        ]

    def _pages(self, fetch: Callable[[str | None], object], what: str) -> Iterator:
        offset = None
        while True:
            page = _call(lambda offset=offset: fetch(offset), what)
            yield from page.list
            offset = page.next_offset
            if not offset:
                return


def chargebee_customer_id(customer_id: str) -> str:
    """Our id as Chargebee's customer id: itself when Chargebee accepts it (50 characters of
    letters, digits and `_.@-`), else a digest of it, the same on every run."""
    if _CUSTOMER_ID.fullmatch(customer_id):
        return customer_id
    return "billing-" + hashlib.sha256(customer_id.encode()).hexdigest()[: MAX_CUSTOMER_ID - 8]


def _page(filters: dict, offset: str | None) -> dict:
    return filters | {"limit": 100} | ({"offset": offset} if offset else {})


def _document(invoice) -> RemoteDocument:
    status = STATUSES.get(invoice.status)
    if status is None:
        raise GatewayError(f"Chargebee invoice {invoice.id} has an unknown status {invoice.status}")
    return RemoteDocument(invoice.id, status, invoice.currency_code, invoice.total)


def _dispute(dispute) -> RemoteDispute:
    return RemoteDispute(
        dispute.id,
        DECIDED_DISPUTES.get(dispute.status, "opened"),
        dispute.status,
        dispute.currency_code,
        dispute.amount,
        dispute.reason or "",
        datetime.fromtimestamp(dispute.created_at, UTC),
    )


def _credit_note(note) -> RemoteDocument:
    status = "void" if note.status == "voided" else "issued"
    return RemoteDocument(note.id, status, note.currency_code, note.total)


class _NotFound(GatewayError):
    """Chargebee answered 404: the object does not exist."""


_STATUS_IN_TEXT = re.compile(r"http_status_code:\s*(\d{3})")


def _call(request: Callable[[], T], what: str) -> T:
    """One API request, its errors as gateway errors that say what failed and why."""
    try:
        return request()
    except chargebee.APIError as error:
        status = error.http_code or 0
        message = f"{what}: Chargebee answered {status} ({error.api_error_code}): {error}"
        if status in (401, 403):
            raise GatewayAuthenticationError(
                f"{what}: Chargebee refused the API key ({status}): check CHARGEBEE_API_KEY and "
                f"CHARGEBEE_SITE"
            ) from error
        if status == 404:
            raise _NotFound(message) from error
        if status == 429 or status >= 500 or status == 409:
            raise TransientGatewayError(message) from error
        raise GatewayError(message) from error
    except httpx.TransportError as error:
        raise TransientGatewayError(f"{what}: network error: {error!r}") from error
    except Exception as error:
        if type(error) is not Exception:  # the SDK's bare Exception: an answer it cannot read
            raise
        found = _STATUS_IN_TEXT.search(str(error))
        status = int(found.group(1)) if found else 0
        message = f"{what}: Chargebee answered {status or 'something unreadable'}"
        if status and status < 500 and status != 429:
            raise GatewayError(message) from error
        raise TransientGatewayError(message) from error
