"""A stateful fake of Razorpay's API v1, for the gateway tests and benchmarks.

Written from Razorpay's public API reference, for what the sync uses: customers (with notes,
listed with `count`/`skip`), invoices created as drafts with line items (each at least one
minor unit; no idempotency key), listed with `receipt`, fetched, issued, cancelled (only once
issued); payments and their refunds (never more in all than was paid, listed per payment);
disputes of payments, listed account-wide (`/v1/disputes`, `count`/`skip`), fetched and
accepted (then lost); and, for tests only, `POST /_test/invoices/{id}/pay`, standing for the
customer paying, `POST /_test/invoices/{id}/dispute`, for the customer disputing that payment,
and `POST /_test/disputes/{id}/status` (`under_review`, `won`, `lost`, `closed`), for the
bank's decision.
Errors carry Razorpay's shape (`{"error": {"code", "description"}}`).

Run as `python -m testbed.fake_razorpay PORT`, or `start()` it: binds 127.0.0.1, keeps state
in memory, `DELETE /_config/data` resets it, `GET /_config/objects` lists every object.
"""

from __future__ import annotations

import itertools
import time

from aiohttp import web

from testbed import fake_server

CURRENCIES = ("INR", "USD", "EUR", "GBP")
MAX_COUNT = 100


class RazorpayError(Exception):
    def __init__(self, status: int, description: str, code: str = "BAD_REQUEST_ERROR"):
        super().__init__(description)
        self.status, self.code = status, code


class Store:
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.numbers = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.numbers):014d}"

    def invoice(self, invoice_id: str) -> dict:
        if invoice_id not in self.invoices:
            raise RazorpayError(400, "The id provided does not exist")
        return self.invoices[invoice_id]


store = Store()


def create_customer(body: dict) -> dict:
    if not body.get("name"):
        raise RazorpayError(400, "The name field is required.")
    customer = {
        "id": store.new_id("cust"),
        "entity": "customer",
        "name": body["name"],
        "notes": body.get("notes") or {},
        "created_at": int(time.time()),
    }
    store.customers[customer["id"]] = customer
    return customer


def list_customers(query: dict) -> dict:
    return _collection(list(store.customers.values()), query)


def edit_customer(body: dict, customer_id: str) -> dict:
    if customer_id not in store.customers:
        raise RazorpayError(400, "The id provided does not exist")
    editable = {key: body[key] for key in ("name", "email", "contact") if key in body}
    store.customers[customer_id].update(editable)
    return store.customers[customer_id]


def create_invoice(body: dict) -> dict:
    if body.get("customer_id") not in store.customers:
        raise RazorpayError(400, "The customer_id provided does not exist")
    currency = body.get("currency", "INR")
    if currency not in CURRENCIES:
        raise RazorpayError(400, f"Currency {currency} is not supported")
    receipt = body.get("receipt")
    if receipt is not None and not 1 <= len(receipt) <= 40:
        raise RazorpayError(400, "The receipt may not be greater than 40 characters.")
    items = body.get("line_items") or []
    if not items:
        raise RazorpayError(400, "The line items field is required.")
    lines = []
    for item in items:
        amount, quantity = item.get("amount"), item.get("quantity", 1)
        if not isinstance(amount, int) or amount < 1:
            raise RazorpayError(400, "The amount must be at least 1 in the currency's subunit.")
        lines.append(
            {
                "id": store.new_id("li"),
                "name": item.get("name"),
                "description": item.get("description"),
                "amount": amount,
                "quantity": quantity,
                "currency": item.get("currency", currency),
            }
        )
    amount = sum(line["amount"] * line["quantity"] for line in lines)
    invoice = {
        "id": store.new_id("inv"),
        "entity": "invoice",
        "type": body.get("type", "invoice"),
        "status": "draft" if str(body.get("draft")) == "1" else "issued",
        "customer_id": body["customer_id"],
        "currency": currency,
        "receipt": receipt,
        "description": body.get("description"),
        "line_items": lines,
        "amount": amount,
        "amount_paid": 0,
        "amount_due": amount,
        "payment_id": None,
        "notes": body.get("notes") or {},
        "created_at": int(time.time()),
    }
    store.invoices[invoice["id"]] = invoice
    return invoice


def list_invoices(query: dict) -> dict:
    found = [
        i
        for i in store.invoices.values()
        if all(str(i.get(key)) == query[key] for key in ("receipt", "customer_id") if key in query)
    ]
    return _collection(found, query)


def fetch_invoice(query: dict, invoice_id: str) -> dict:
    return store.invoice(invoice_id)


def issue_invoice(body: dict, invoice_id: str) -> dict:
    invoice = _in_state(invoice_id, ("draft",), "issued")
    invoice |= {"status": "issued", "issued_at": int(time.time())}
    return invoice


def cancel_invoice(body: dict, invoice_id: str) -> dict:
    invoice = _in_state(invoice_id, ("issued", "partially_paid"), "cancelled")
    invoice |= {"status": "cancelled", "cancelled_at": int(time.time())}
    return invoice


def pay_invoice(body: dict, invoice_id: str) -> dict:
    """Test-only: the customer pays the whole invoice."""
    invoice = _in_state(invoice_id, ("issued", "partially_paid"), "paid")
    payment = {
        "id": store.new_id("pay"),
        "entity": "payment",
        "amount": invoice["amount_due"],
        "currency": invoice["currency"],
        "invoice_id": invoice_id,
        "status": "captured",
    }
    store.payments[payment["id"]] = payment
    invoice |= {
        "status": "paid",
        "payment_id": payment["id"],
        "amount_paid": invoice["amount"],
        "amount_due": 0,
    }
    return invoice


def refund_payment(body: dict, payment_id: str) -> dict:
    payment = _payment(payment_id)
    amount = body.get("amount", payment["amount"])
    refunded = sum(r["amount"] for r in store.refunds.values() if r["payment_id"] == payment_id)
    if not isinstance(amount, int) or amount < 1 or refunded + amount > payment["amount"]:
        raise RazorpayError(
            400, "The refund amount provided is greater than amount captured and not refunded"
        )
    refund = {
        "id": store.new_id("rfnd"),
        "entity": "refund",
        "amount": amount,
        "currency": payment["currency"],
        "payment_id": payment_id,
        "receipt": body.get("receipt"),
        "notes": body.get("notes") or {},
        "status": "processed",
        "created_at": int(time.time()),
    }
    store.refunds[refund["id"]] = refund
    return refund


def list_refunds(query: dict, payment_id: str) -> dict:
    _payment(payment_id)
    found = [r for r in store.refunds.values() if r["payment_id"] == payment_id]
    return _collection(found, query)


def dispute_payment(body: dict, invoice_id: str) -> dict:
    """Test-only: the customer disputes the payment of a paid invoice (its whole amount
    unless `amount` says less)."""
    payment = _payment(store.invoice(invoice_id).get("payment_id") or "")
    dispute = {
        "id": store.new_id("disp"),
        "entity": "dispute",
        "payment_id": payment["id"],
        "amount": body.get("amount", payment["amount"]),
        "currency": payment["currency"],
        "amount_deducted": 0,
        "reason_code": body.get("reason_code", "chargeback"),
        "status": "open",
        "phase": "chargeback",
        "created_at": int(time.time()),
    }
    store.disputes[dispute["id"]] = dispute
    return dispute


def list_disputes(query: dict) -> dict:
    return _collection(list(store.disputes.values()), query)


def fetch_dispute(query: dict, dispute_id: str) -> dict:
    if dispute_id not in store.disputes:
        raise RazorpayError(400, "The id provided does not exist")
    return store.disputes[dispute_id]


def accept_dispute(body: dict, dispute_id: str) -> dict:
    """The merchant accepts the dispute: it is lost, its amount deducted."""
    return move_dispute({"status": "lost"}, dispute_id)


def move_dispute(body: dict, dispute_id: str) -> dict:
    """Test-only: the bank's decision, or its review."""
    dispute = fetch_dispute({}, dispute_id)
    if dispute["status"] not in ("open", "under_review"):
        raise RazorpayError(400, f"The dispute is {dispute['status']}: it cannot change")
    if body.get("status") not in ("under_review", "won", "lost", "closed"):
        raise RazorpayError(400, f"harness: a dispute cannot become {body.get('status')!r}")
    deducted = dispute["amount"] if body["status"] == "lost" else 0
    dispute |= {"status": body["status"], "amount_deducted": deducted}
    return dispute


def _payment(payment_id: str) -> dict:
    if payment_id not in store.payments:
        raise RazorpayError(400, "The id provided does not exist")
    return store.payments[payment_id]


def _in_state(invoice_id: str, allowed: tuple[str, ...], target: str) -> dict:
    invoice = store.invoice(invoice_id)
    if invoice["status"] not in allowed:
        raise RazorpayError(
            400, f"Invoice is {invoice['status']}: the operation to make it {target} is not allowed"
        )
    return invoice


def _collection(found: list[dict], query: dict) -> dict:
    count = min(int(query.get("count", 10)), MAX_COUNT)
    skip = int(query.get("skip", 0))
    items = found[skip : skip + count]
    return {"entity": "collection", "count": len(items), "items": items}


ROUTES = [
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("PUT", "/v1/customers/{id}", edit_customer),
    ("POST", "/v1/invoices", create_invoice),
    ("GET", "/v1/invoices", list_invoices),
    ("GET", "/v1/invoices/{id}", fetch_invoice),
    ("POST", "/v1/invoices/{id}/issue", issue_invoice),
    ("POST", "/v1/invoices/{id}/cancel", cancel_invoice),
    ("POST", "/v1/payments/{id}/refund", refund_payment),
    ("GET", "/v1/payments/{id}/refunds", list_refunds),
    ("GET", "/v1/disputes", list_disputes),
    ("GET", "/v1/disputes/{id}", fetch_dispute),
    ("POST", "/v1/disputes/{id}/accept", accept_dispute),
    ("POST", "/_test/invoices/{id}/pay", pay_invoice),
    ("POST", "/_test/invoices/{id}/dispute", dispute_payment),
    ("POST", "/_test/disputes/{id}/status", move_dispute),
]


def _handler(method: str, action):
    async def handle(request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Basic "):
            return _error(RazorpayError(401, "Authentication failed"))
        if method in ("POST", "PUT"):
            data = await request.json() if request.can_read_body else {}
        else:
            data = dict(request.query)
        try:
            return web.json_response(action(data, *request.match_info.values()))
        except RazorpayError as error:
            return _error(error)

    return handle


def _error(error: RazorpayError) -> web.Response:
    body = {"error": {"code": error.code, "description": str(error)}}
    return web.json_response(body, status=error.status)


def app() -> web.Application:
    return fake_server.application(
        [(method, path, _handler(method, action)) for method, path, action in ROUTES],
        lambda: {
            "customer": list(store.customers.values()),
            "invoice": list(store.invoices.values()),
            "refund": list(store.refunds.values()),
            "dispute": list(store.disputes.values()),
        },
        store.__init__,
    )


def start(**popen):
    """A fake Razorpay server in a subprocess, on a free port, for the block: its base URL."""
    return fake_server.start("testbed.fake_razorpay", **popen)


if __name__ == "__main__":
    fake_server.serve(app())
