"""Stripe, through the official SDK.

Every object carries our ids in its metadata, and every create an idempotency key derived
from them: Stripe replays a create retried within 24 hours, and `find_*` finds an object
whatever its age. Invoices are one-off `send_invoice` invoices in the document's currency;
each of our lines is one invoice item (tax, discounts and credits too, the last two negative),
so Stripe's total is ours to the cent. The SDK's own retries are off: `retry.py` retries, and
looks up again before each new attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import stripe

from billing_dagster.erasure.tombstones import TOMBSTONE
from billing_dagster.gateways.base import (
    PAYMENT_TERMS_DAYS,
    GatewayAuthenticationError,
    GatewayError,
    RemoteDispute,
    RemoteDocument,
    RemoteLine,
    TransientGatewayError,
    minor_units,
)
from billing_dagster.gateways.describe import credit_note_description, line_description
from billing_dagster.invoicing.documents import CreditNote, Invoice

T = TypeVar("T")

CUSTOMER_KEY = "billing_customer_id"
INVOICE_KEY = "billing_invoice_id"
LINE_KEY = "billing_line_no"
CREDIT_NOTE_KEY = "billing_credit_note_id"
#: Stripe's dispute statuses that are decided, as ours; the others (`needs_response`,
#: `under_review` and their `warning_` inquiries) are still open. An inquiry closed without
#: becoming a dispute (`warning_closed`) took no money: won.
DECIDED_DISPUTES = {"won": "won", "warning_closed": "won", "lost": "lost"}


class StripeGateway:
    name = "stripe"
    whole_documents = False
    reports_disputes = True

    def __init__(self, api_key: str, api_base: str = "", timeout_seconds: float = 30):
        if not api_key:
            raise GatewayError(
                "STRIPE_API_KEY is not set: give the secret key (sk_...) of the Stripe account"
            )
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )
        self._v1 = self._client.v1

    # -- customers --------------------------------------------------------------------

    def find_customer(self, customer_id: str) -> str | None:
        found = _call(
            lambda: self._v1.customers.search(
                params={"query": f"metadata['{CUSTOMER_KEY}']:'{_quoted(customer_id)}'"}
            ),
            f"searching customer {customer_id}",
        )
        ids = sorted(customer.id for customer in found.data)
        return ids[0] if ids else None

    def create_customer(self, customer_id: str, name: str) -> str:
        customer = _call(
            lambda: self._v1.customers.create(
                params={"name": name, "metadata": {CUSTOMER_KEY: customer_id}},
                options={"idempotency_key": f"billing-customer-{customer_id}"},
            ),
            f"creating customer {customer_id}",
        )
        return customer.id

    def erase_customer(self, gateway_customer: str) -> str:
        _call(
            lambda: self._v1.customers.update(
                gateway_customer,
                params={"name": TOMBSTONE, "email": "", "phone": "", "description": ""},
            ),
            f"erasing customer {gateway_customer}",
        )
        return "name, email, phone and description redacted"

    # -- invoices ---------------------------------------------------------------------

    def find_invoice(self, gateway_customer: str, invoice: Invoice) -> RemoteDocument | None:
        # Listing a customer's invoices is read-after-write consistent; search is not.
        for found in self._pages(
            lambda after: self._v1.invoices.list(
                params=_page({"customer": gateway_customer}, after)
            ),
            f"listing invoices of {invoice['customer_id']}",
        ):
            if _metadata(found).get(INVOICE_KEY) == invoice["invoice_id"]:
                return _document(found)
        return None

    def create_invoice(self, gateway_customer: str, invoice: Invoice) -> str:
        created = _call(
            lambda: self._v1.invoices.create(
                params={
                    "customer": gateway_customer,
                    "currency": invoice["currency"].lower(),
                    "collection_method": "send_invoice",
                    "days_until_due": PAYMENT_TERMS_DAYS,
                    "auto_advance": False,
                    "pending_invoice_items_behavior": "exclude",
                    "description": f"Billing period {invoice['period']}",
                    "metadata": {
                        INVOICE_KEY: invoice["invoice_id"],
                        CUSTOMER_KEY: invoice["customer_id"],
                        "billing_period": invoice["period"],
                    },
                },
                options={"idempotency_key": f"billing-invoice-{invoice['invoice_id']}"},
            ),
            f"creating invoice {invoice['invoice_id']}",
        )
        return created.id

    def find_lines(self, gateway_invoice: str, invoice: Invoice) -> dict[int, RemoteLine]:
        lines: dict[int, RemoteLine] = {}
        for item in self._pages(
            lambda after: self._v1.invoice_items.list(
                params=_page({"invoice": gateway_invoice}, after)
            ),
            f"listing the items of invoice {invoice['invoice_id']}",
        ):
            metadata = _metadata(item)
            if metadata.get(INVOICE_KEY) == invoice["invoice_id"] and LINE_KEY in metadata:
                lines.setdefault(int(metadata[LINE_KEY]), RemoteLine(item.id, item.amount))
        return lines

    def create_line(
        self, gateway_customer: str, gateway_invoice: str, invoice: Invoice, line_no: int
    ) -> RemoteLine:
        line = invoice["lines"][line_no - 1]
        currency = invoice["currency"]
        item = _call(
            lambda: self._v1.invoice_items.create(
                params={
                    "customer": gateway_customer,
                    "invoice": gateway_invoice,
                    "currency": currency.lower(),
                    "amount": minor_units(line["amount"], currency),
                    "description": line_description(line, currency),
                    "metadata": {
                        INVOICE_KEY: invoice["invoice_id"],
                        LINE_KEY: str(line_no),
                        "billing_line_kind": line["kind"],
                    },
                },
                options={"idempotency_key": f"billing-line-{invoice['invoice_id']}-{line_no}"},
            ),
            f"creating line {line_no} of invoice {invoice['invoice_id']}",
        )
        return RemoteLine(item.id, item.amount)

    def fetch_invoice(self, gateway_invoice: str) -> RemoteDocument:
        return _document(
            _call(
                lambda: self._v1.invoices.retrieve(gateway_invoice),
                f"fetching invoice {gateway_invoice}",
            )
        )

    def fetch_disputes(self, gateway_invoice: str) -> list[RemoteDispute]:
        """The disputes of each PaymentIntent that paid the invoice (its invoice payments)."""
        disputes = []
        for payment in self._pages(
            lambda after: self._v1.invoice_payments.list(
                params=_page({"invoice": gateway_invoice}, after)
            ),
            f"listing the payments of invoice {gateway_invoice}",
        ):
            intent = getattr(payment.payment, "payment_intent", None)
            if not intent:
                continue  # paid out of band: there is no card payment to dispute
            disputes += [
                _dispute(found)
                for found in self._pages(
                    lambda after, intent=intent: self._v1.disputes.list(
                        params=_page({"payment_intent": intent}, after)
                    ),
                    f"listing the disputes of invoice {gateway_invoice}",
                )
            ]
        return disputes

    def finalize_invoice(self, gateway_invoice: str) -> RemoteDocument:
        return _document(
            _call(
                lambda: self._v1.invoices.finalize_invoice(
                    gateway_invoice, params={"auto_advance": False}
                ),
                f"finalizing invoice {gateway_invoice}",
            )
        )

    def send_invoice(self, gateway_invoice: str) -> None:
        _call(
            lambda: self._v1.invoices.send_invoice(gateway_invoice),
            f"sending invoice {gateway_invoice}",
        )

    def void_invoice(self, gateway_invoice: str) -> None:
        _call(
            lambda: self._v1.invoices.void_invoice(gateway_invoice),
            f"voiding invoice {gateway_invoice}",
        )

    # -- credit notes -----------------------------------------------------------------

    def find_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument | None:
        for found in self._pages(
            lambda after: self._v1.credit_notes.list(
                params=_page({"invoice": gateway_invoice}, after)
            ),
            f"listing the credit notes of {note['adjusts_invoice']}",
        ):
            if _metadata(found).get(CREDIT_NOTE_KEY) == note["credit_note_id"]:
                return _credit_note(found)
        return None

    def create_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument:
        amount = minor_units(note["total"], note["currency"])
        invoice = self.fetch_invoice(gateway_invoice)
        # On a paid invoice the credit goes to the customer's balance (it pays the next
        # invoice), or back to the payment for a refund that says so; on an open invoice it
        # lowers what is due.
        settle = {}
        if invoice.status == "paid":
            to_payment = note.get("refund_to") == "payment"
            settle = {"refund_amount" if to_payment else "credit_amount": amount}
        created = _call(
            lambda: self._v1.credit_notes.create(
                params={
                    "invoice": gateway_invoice,
                    "lines": [
                        {
                            "type": "custom_line_item",
                            "description": credit_note_description(note),
                            "quantity": 1,
                            "unit_amount": amount,
                        }
                    ],
                    "memo": f"Credit note {note['credit_note_id']}",
                    "metadata": {
                        CREDIT_NOTE_KEY: note["credit_note_id"],
                        CUSTOMER_KEY: note["customer_id"],
                        "billing_period": note["period"],
                    },
                    **settle,
                },
                options={"idempotency_key": f"billing-credit-note-{note['credit_note_id']}"},
            ),
            f"creating credit note {note['credit_note_id']}",
        )
        return _credit_note(created)

    def _pages(self, fetch: Callable[[str | None], stripe.ListObject], what: str) -> Iterator:
        after = None
        while True:
            page = _call(lambda after=after: fetch(after), what)
            yield from page.data
            if not page.has_more or not page.data:
                return
            after = page.data[-1].id


def _page(params: dict, after: str | None) -> dict:
    return params | {"limit": 100} | ({"starting_after": after} if after else {})


def _metadata(found: stripe.StripeObject) -> dict[str, str]:
    metadata = getattr(found, "metadata", None)
    return metadata.to_dict() if metadata else {}


def _quoted(value: str) -> str:
    """A value inside a single-quoted Stripe search string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _document(invoice: stripe.Invoice) -> RemoteDocument:
    return RemoteDocument(invoice.id, invoice.status, invoice.currency.upper(), invoice.total)


def _dispute(dispute: stripe.Dispute) -> RemoteDispute:
    return RemoteDispute(
        dispute.id,
        DECIDED_DISPUTES.get(dispute.status, "opened"),
        dispute.status,
        dispute.currency.upper(),
        dispute.amount,
        dispute.reason or "",
        datetime.fromtimestamp(dispute.created, UTC),
    )


def _credit_note(note: stripe.CreditNote) -> RemoteDocument:
    return RemoteDocument(note.id, note.status, note.currency.upper(), note.amount)


def _call(request: Callable[[], T], what: str) -> T:
    """One API request, its errors as gateway errors that say what failed and why."""
    try:
        return request()
    except stripe.RateLimitError as error:
        raise TransientGatewayError(f"{what}: rate limited by Stripe (429)") from error
    except stripe.APIConnectionError as error:
        raise TransientGatewayError(f"{what}: network error: {error.user_message}") from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        raise GatewayAuthenticationError(
            f"{what}: Stripe refused the API key ({error.http_status}): check STRIPE_API_KEY"
        ) from error
    except stripe.StripeError as error:
        status = error.http_status or 0
        message = f"{what}: Stripe answered {status}: {error.user_message or error}"
        if status >= 500 or status in (0, 409) or _should_retry(error):
            raise TransientGatewayError(message) from error
        raise GatewayError(message) from error


def _should_retry(error: stripe.StripeError) -> bool:
    return (error.headers or {}).get("Stripe-Should-Retry") == "true"
