"""localstripe with the Stripe endpoints the sync needs and localstripe lacks (DESIGN §3).

Run as `python -m testbed.fake_stripe PORT`, or `start()` it from Python: binds 127.0.0.1
only, never saves its state to disk, `DELETE /_config/data` resets it. Added with Stripe's
documented semantics: one-off invoices (currency, `send_invoice`, pending items excluded),
invoice items attached to a draft invoice and listed by invoice, `/finalize`, `/send`,
`/void`, `/mark_uncollectible`, `/pay` out of band, credit notes (with the refund of a
`refund_amount`), customer search by metadata, invoice payments and disputes (listed, read,
closed), and `GET /_config/objects` (every stored object, for tests to count). Test-only, as
Stripe's test cards do on the real service: `POST /_config/invoices/<id>/dispute` pays an
invoice by card and opens a dispute on that payment, `POST /_config/disputes/<id>/status`
moves it (`under_review`, `won`, `lost`). localstripe is GPL and test-only.
"""

from __future__ import annotations

import re
import sys
import time

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import Customer, Invoice, InvoiceItem, InvoiceLineItem, List, store

from testbed import fake_server

# Saving off: state lives in memory only (localstripe pickles it to a fixed /tmp file).
resources.Store.dump_to_disk = lambda self: None


class OneOffInvoice(Invoice):
    """A Stripe invoice without a subscription: its status is its own state."""

    _state = "draft"
    _sent = 0

    @property
    def status(self) -> str:
        return self._state

    @property
    def total(self) -> int:
        return self.subtotal + self.tax

    @property
    def amount_due(self) -> int:
        return max(0, self.total - sum(n.amount for n in _credit_notes(self.id)))

    @property
    def amount_paid(self) -> int:
        return self.amount_due if self._state == "paid" else 0


class CreditNote(resources.StripeObject):
    object = "credit_note"
    _id_prefix = "cn_"

    def __init__(
        self, invoice: OneOffInvoice, amount: int, lines: list, memo, metadata, refunded: int = 0
    ):
        super().__init__()
        #: Stripe refunds `refund_amount` of the invoice's payment and links the refund here.
        self.refund = Refund(invoice, refunded).id if refunded else None
        self.invoice, self.customer, self.currency = invoice.id, invoice.customer, invoice.currency
        self.amount, self.total, self.memo = amount, amount, memo
        self.metadata = metadata or {}
        self.status, self.type = (
            "issued",
            "post_payment" if invoice._state == "paid" else "pre_payment",
        )
        self.lines = {"object": "list", "data": lines, "has_more": False}


class Refund(resources.StripeObject):
    object = "refund"
    _id_prefix = "re_"

    def __init__(self, invoice: OneOffInvoice, amount: int):
        super().__init__()
        self.amount, self.currency, self.status = amount, invoice.currency, "succeeded"
        self.metadata = {"invoice": invoice.id}


class InvoicePayment(resources.StripeObject):
    """A payment of an invoice (Stripe's `invoice_payment`), by a PaymentIntent."""

    object = "invoice_payment"
    _id_prefix = "inpay_"

    def __init__(self, invoice: OneOffInvoice):
        super().__init__()
        self.invoice, self.currency, self.status = invoice.id, invoice.currency, "paid"
        self.amount_paid = invoice.amount_due
        self.payment = {"type": "payment_intent", "payment_intent": "pi_" + resources.random_id(14)}


class Dispute(resources.StripeObject):
    """A cardholder's dispute of a payment; its `status` moves from `needs_response` to
    `under_review`, then `won` or `lost`."""

    object = "dispute"
    _id_prefix = "du_"

    def __init__(self, payment: InvoicePayment, amount: int, reason: str):
        super().__init__()
        self.payment_intent = payment.payment["payment_intent"]
        self.charge = "ch_" + resources.random_id(14)
        self.amount, self.currency, self.reason = amount, payment.currency, reason
        self.status, self.metadata, self.is_charge_refundable = "needs_response", {}, False


def _of_kind(kind: str, **equal) -> list:
    """Stored objects of a kind whose attributes equal the given values (None: any)."""
    return [
        v
        for k, v in store.items()
        if k.startswith(kind + ":")
        and all(value is None or getattr(v, name) == value for name, value in equal.items())
    ]


def _credit_notes(invoice_id: str) -> list[CreditNote]:
    return [v for k, v in store.items() if k.startswith("credit_note:") and v.invoice == invoice_id]


def _invoice(invoice_id: str) -> OneOffInvoice:
    invoice = Invoice._api_retrieve(invoice_id)
    if not isinstance(invoice, OneOffInvoice):
        raise UserError(400, "harness: only one-off invoices are supported")
    return invoice


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(400, f"Invalid integer: {name}") from None


def _listed(url: str, objects: list, query: dict) -> dict:
    page = List(url, limit=query.get("limit"), starting_after=query.get("starting_after"))
    page._list = objects
    return page._export()


# -- handlers -----------------------------------------------------------------------------


def create_invoice(data: dict, query: dict) -> dict:
    customer = data.get("customer")
    Customer._api_retrieve(customer or "")
    currency = data.get("currency")
    if not currency:
        raise UserError(400, "Missing required param: currency.")
    if data.get("collection_method", "charge_automatically") == "send_invoice" and not data.get(
        "days_until_due"
    ):
        raise UserError(400, "Missing required param: days_until_due.")
    invoice = OneOffInvoice(
        customer=customer, metadata=data.get("metadata"), description=data.get("description")
    )
    if data.get("pending_invoice_items_behavior", "exclude") == "exclude":
        for line in invoice.lines._list:
            InvoiceItem._api_retrieve(line.invoice_item).invoice = None
        invoice.lines._list = []
    invoice.currency = currency.lower()
    invoice.collection_method = data.get("collection_method", "charge_automatically")
    invoice.days_until_due = data.get("days_until_due")
    invoice.auto_advance = data.get("auto_advance") not in ("false", False)
    return invoice._export()


def create_invoice_item(data: dict, query: dict) -> dict:
    invoice_id = data.pop("invoice", None)
    invoice = _invoice(invoice_id) if invoice_id else None
    if invoice is not None:
        if invoice._state != "draft":
            raise UserError(
                400, f"Invoice {invoice_id} is no longer a draft; add items to a draft."
            )
        if (data.get("currency") or "").lower() != invoice.currency:
            raise UserError(
                400,
                f"The currency of the invoice item ({data.get('currency')}) must match the "
                f"invoice's ({invoice.currency}).",
            )
    item = InvoiceItem._api_create(**data)
    if invoice is not None:
        item.invoice = invoice.id
        invoice.lines._list.append(InvoiceLineItem(item))
    return item._export()


def list_invoice_items(data: dict, query: dict) -> dict:
    invoice_id = query.get("invoice")
    items = [
        v
        for k, v in store.items()
        if k.startswith("invoiceitem:") and (invoice_id is None or v.invoice == invoice_id)
    ]
    return _listed("/v1/invoiceitems", items, query)


def finalize_invoice(data: dict, query: dict, invoice_id: str) -> dict:
    invoice = _invoice(invoice_id)
    if invoice._state != "draft":
        raise UserError(400, f"Invoice {invoice_id} is already finalized.")
    invoice._state = "paid" if invoice.total <= 0 else "open"
    invoice.status_transitions["finalized_at"] = int(time.time())
    return invoice._export()


def send_invoice(data: dict, query: dict, invoice_id: str) -> dict:
    invoice = _invoice(invoice_id)
    if invoice.collection_method != "send_invoice":
        raise UserError(400, "Only invoices with collection_method=send_invoice can be sent.")
    if invoice._state == "draft":
        invoice._state = "paid" if invoice.total <= 0 else "open"
    if invoice._state != "open":
        raise UserError(400, f"Invoice {invoice_id} is {invoice._state}; it cannot be sent.")
    invoice._sent += 1
    return invoice._export()


def _transition(allowed: tuple[str, ...], to: str):
    def handler(data: dict, query: dict, invoice_id: str) -> dict:
        invoice = _invoice(invoice_id)
        if invoice._state not in allowed:
            raise UserError(400, f"Invoice {invoice_id} is {invoice._state}; cannot become {to}.")
        invoice._state = to
        return invoice._export()

    return handler


def pay_invoice(data: dict, query: dict, invoice_id: str) -> dict:
    if data.get("paid_out_of_band") not in ("true", True):
        raise UserError(400, "harness: only paid_out_of_band=true is supported")
    return _transition(("open", "uncollectible"), "paid")(data, query, invoice_id)


def create_credit_note(data: dict, query: dict) -> dict:
    invoice = _invoice(data.get("invoice") or "")
    if invoice._state not in ("open", "paid"):
        raise UserError(400, f"Invoice {invoice.id} is {invoice._state}: it must be open or paid.")
    lines = data.get("lines") or []
    amount = sum(
        _int(line.get("quantity", 1), "quantity") * _int(line.get("unit_amount"), "unit_amount")
        for line in lines
    )
    if "amount" in data:
        amount = _int(data["amount"], "amount")
    remaining = invoice.total - sum(n.amount for n in _credit_notes(invoice.id))
    if amount <= 0 or amount > remaining:
        raise UserError(400, f"The credit note amount ({amount}) must be in (0, {remaining}].")
    settled = sum(
        _int(data.get(key, 0), key)
        for key in ("credit_amount", "refund_amount", "out_of_band_amount")
    )
    if invoice._state == "paid" and settled != amount:
        raise UserError(400, "A credit note on a paid invoice must say how it is settled.")
    refunded = _int(data.get("refund_amount", 0), "refund_amount")
    return CreditNote(
        invoice, amount, lines, data.get("memo"), data.get("metadata"), refunded
    )._export()


def list_credit_notes(data: dict, query: dict) -> dict:
    invoice_id = query.get("invoice")
    notes = [
        v
        for k, v in store.items()
        if k.startswith("credit_note:") and (invoice_id is None or v.invoice == invoice_id)
    ]
    return _listed("/v1/credit_notes", notes, query)


def retrieve_credit_note(data: dict, query: dict, note_id: str) -> dict:
    return CreditNote._api_retrieve(note_id)._export()


_CLAUSE = re.compile(r"metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'")


def search(object_name: str):
    """Stripe's search, for `metadata['key']:'value'` clauses joined by AND."""

    def handler(data: dict, query: dict) -> dict:
        text = query.get("query") or ""
        clauses = [(k, re.sub(r"\\(.)", r"\1", v)) for k, v in _CLAUSE.findall(text)]
        if not clauses:
            raise UserError(400, f"harness: unsupported search query {text!r}")
        found = [
            v._export()
            for k, v in store.items()
            if k.startswith(object_name + ":")
            and all((v.metadata or {}).get(key) == value for key, value in clauses)
        ]
        return {"object": "search_result", "data": found, "has_more": False, "next_page": None}

    return handler


def list_invoice_payments(data: dict, query: dict) -> dict:
    payments = _of_kind("invoice_payment", invoice=query.get("invoice"))
    return _listed("/v1/invoice_payments", payments, query)


def list_disputes(data: dict, query: dict) -> dict:
    disputes = _of_kind(
        "dispute", charge=query.get("charge"), payment_intent=query.get("payment_intent")
    )
    return _listed("/v1/disputes", disputes, query)


def retrieve_dispute(data: dict, query: dict, dispute_id: str) -> dict:
    return Dispute._api_retrieve(dispute_id)._export()


def close_dispute(data: dict, query: dict, dispute_id: str) -> dict:
    """Stripe's `/close`: the merchant accepts the dispute, which is then lost."""
    return move_dispute({"status": "lost"}, query, dispute_id)


def open_dispute(data: dict, query: dict, invoice_id: str) -> dict:
    """Test-only: the customer pays the open invoice by card, then disputes the payment
    (its whole amount unless `amount` says less; `reason` default `fraudulent`)."""
    invoice = _invoice(invoice_id)
    if invoice._state not in ("open", "paid"):
        raise UserError(400, f"Invoice {invoice_id} is {invoice._state}: nothing was paid.")
    if invoice._state == "open":
        InvoicePayment(invoice)
        invoice._state = "paid"
    payments = _of_kind("invoice_payment", invoice=invoice.id)
    if not payments:
        raise UserError(400, f"Invoice {invoice_id} was paid out of band: no card to dispute.")
    payment = payments[-1]
    amount = _int(data.get("amount", payment.amount_paid), "amount")
    return Dispute(payment, amount, data.get("reason", "fraudulent"))._export()


def move_dispute(data: dict, query: dict, dispute_id: str) -> dict:
    """Test-only: the card network's decision (`under_review`, `won`, `lost`)."""
    dispute = Dispute._api_retrieve(dispute_id)
    status = data.get("status")
    if dispute.status in ("won", "lost"):
        raise UserError(400, f"Dispute {dispute_id} is already {dispute.status}.")
    if status not in ("under_review", "won", "lost"):
        raise UserError(400, f"harness: a dispute cannot become {status!r}")
    dispute.status = status
    return dispute._export()


def objects(data: dict, query: dict) -> dict:
    counts: dict[str, list] = {}
    for key, value in store.items():
        kind = key.split(":", 1)[0]
        if kind in ("customer", "invoice", "invoiceitem", "credit_note", "refund", "dispute"):
            exported = value._export()
            if kind == "invoice":
                exported["sent_count"] = getattr(value, "_sent", 0)
            counts.setdefault(kind, []).append(exported)
    return counts


ROUTES = [
    ("GET", r"/v1/customers/search", search("customer")),
    ("GET", r"/v1/invoices/search", search("invoice")),
    ("POST", r"/v1/invoices", create_invoice),
    ("POST", r"/v1/invoiceitems", create_invoice_item),
    ("GET", r"/v1/invoiceitems", list_invoice_items),
    ("POST", r"/v1/invoices/(in_\w+)/finalize", finalize_invoice),
    ("POST", r"/v1/invoices/(in_\w+)/send", send_invoice),
    ("POST", r"/v1/invoices/(in_\w+)/void", _transition(("open", "uncollectible"), "void")),
    ("POST", r"/v1/invoices/(in_\w+)/mark_uncollectible", _transition(("open",), "uncollectible")),
    ("POST", r"/v1/invoices/(in_\w+)/pay", pay_invoice),
    ("POST", r"/v1/credit_notes", create_credit_note),
    ("GET", r"/v1/credit_notes", list_credit_notes),
    ("GET", r"/v1/credit_notes/(cn_\w+)", retrieve_credit_note),
    ("GET", r"/v1/invoice_payments", list_invoice_payments),
    ("GET", r"/v1/disputes", list_disputes),
    ("GET", r"/v1/disputes/(du_\w+)", retrieve_dispute),
    ("POST", r"/v1/disputes/(du_\w+)/close", close_dispute),
    ("GET", r"/_config/objects", objects),
    ("POST", r"/_config/invoices/(in_\w+)/dispute", open_dispute),
    ("POST", r"/_config/disputes/(du_\w+)/status", move_dispute),
]


@web.middleware
async def stripe_extensions(request: web.Request, handler):
    """Routes above take precedence over localstripe's (its router matches first-added)."""
    for method, pattern, route in ROUTES:
        match = re.fullmatch(pattern, request.path)
        if request.method == method and match:
            data = (await server.get_post_data(request) or {}) if method == "POST" else {}
            query = server.unflatten_data(request.query)
            return server.json_response(route(data, query, *match.groups()))
    return await handler(request)


def start(**popen):
    """A fake Stripe server in a subprocess, on a free port, for the block: its base URL."""
    return fake_server.start("testbed.fake_stripe", **popen)


def main() -> None:
    port = int(sys.argv[1])
    server.app.middlewares.append(stripe_extensions)
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
