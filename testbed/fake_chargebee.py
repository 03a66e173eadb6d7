"""A stateful fake of Chargebee's API v2, for the gateway tests and benchmarks.

Written from Chargebee's public API reference, for what the sync uses: customers created with
our id (a second create of the same id is refused), one-off invoices created with charges
(`payment_due` at once, no draft), listed per customer with `customer_id[is]` and offset
pages, retrieved, closed, voided (not once paid), paid by `record_payment`; credit notes
(`adjustment` on an unpaid invoice, `refundable` on a paid one, never more than the invoice's
total; a refundable one can be refunded to the payment) listed with
`reference_invoice_id[is]`; and the idempotency replay: a POST repeated with the same
`chargebee-idempotency-key` gets the first answer again, marked
`chargebee-idempotency-replayed: true`. A recorded payment is a transaction in the invoice's
`linked_payments`; disputes of transactions are listed with `transaction_id[is]` and
retrieved. For tests only, `POST /_test/invoices/{id}/dispute` disputes an invoice's payment
and `POST /_test/disputes/{id}/status` moves the dispute (`in_review`, `won`, `lost`,
`cancelled`), as the card network would. Errors carry Chargebee's shape (`message`, `type`,
`api_error_code`, `http_status_code`).

Run as `python -m testbed.fake_chargebee PORT`, or `start()` it: binds 127.0.0.1, keeps state
in memory, `DELETE /_config/data` resets it, `GET /_config/objects` lists every object.
"""

from __future__ import annotations

import itertools
import time

from aiohttp import web

from testbed import fake_server

API = "/api/v2"
PAGE_LIMIT = 100


class ChargebeeError(Exception):
    def __init__(self, status: int, code: str, message: str, kind: str = "invalid_request"):
        super().__init__(message)
        self.status, self.code, self.kind = status, code, kind


class Store:
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.credit_notes: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.replays: dict[str, tuple[int, dict]] = {}
        self.numbers = itertools.count(1)

    def invoice(self, invoice_id: str) -> dict:
        if invoice_id not in self.invoices:
            raise ChargebeeError(404, "resource_not_found", f"invoice {invoice_id} not found")
        return self.invoices[invoice_id]


store = Store()


# -- handlers: each takes the form or query and the path's ids, returns (status, body) -------


def create_customer(form: dict) -> dict:
    customer_id = form.get("id") or f"cust_{next(store.numbers)}"
    if customer_id in store.customers:
        raise ChargebeeError(
            400, "duplicate_entry", f"id : The value {customer_id} is already present."
        )
    customer = {
        "id": customer_id,
        "company": form.get("company"),
        "auto_collection": form.get("auto_collection", "on"),
        "created_at": int(time.time()),
        "object": "customer",
    }
    store.customers[customer_id] = customer
    return {"customer": customer}


def retrieve_customer(query: dict, customer_id: str) -> dict:
    if customer_id not in store.customers:
        raise ChargebeeError(404, "resource_not_found", f"customer {customer_id} not found")
    return {"customer": store.customers[customer_id]}


def clear_personal_data(form: dict, customer_id: str) -> dict:
    """Chargebee clears the customer's name, company, email, phone and addresses."""
    customer = retrieve_customer({}, customer_id)["customer"]
    for field in ("first_name", "last_name", "company", "email", "phone", "billing_address"):
        customer.pop(field, None)
    return {"customer": customer}


def create_invoice(form: dict) -> dict:
    customer_id = form.get("customer_id", "")
    retrieve_customer({}, customer_id)
    charges = _indexed(form, "charges")
    if not charges:
        raise ChargebeeError(400, "param_wrong_value", "charges : cannot be empty")
    lines = []
    for n, charge in enumerate(charges):
        amount = _integer(charge.get("amount"), f"charges[amount][{n}]")
        if amount < 1:
            raise ChargebeeError(
                400, "param_wrong_value", f"charges[amount][{n}] : should be at least 1"
            )
        lines.append(
            {
                "id": f"li_{next(store.numbers)}",
                "amount": amount,
                "description": charge.get("description", ""),
                "is_taxed": False,
                "entity_type": "adhoc",
            }
        )
    total = sum(line["amount"] for line in lines)
    invoice = {
        "id": str(next(store.numbers)),
        "customer_id": customer_id,
        "currency_code": form.get("currency_code", "USD"),
        "po_number": form.get("po_number"),
        "status": "payment_due",
        "total": total,
        "amount_due": total,
        "amount_paid": 0,
        "line_items": lines,
        "notes": [form["invoice_note"]] if form.get("invoice_note") else [],
        "object": "invoice",
    }
    store.invoices[invoice["id"]] = invoice
    return {"invoice": invoice}


def list_invoices(query: dict) -> dict:
    found = [i for i in store.invoices.values() if _matches(i, query)]
    return _page(found, query, "invoice")


def retrieve_invoice(query: dict, invoice_id: str) -> dict:
    return {"invoice": store.invoice(invoice_id)}


def close_invoice(form: dict, invoice_id: str) -> dict:
    invoice = _in_state(invoice_id, ("pending",), "closed")
    invoice["status"] = "payment_due"
    return {"invoice": invoice}


def void_invoice(form: dict, invoice_id: str) -> dict:
    invoice = store.invoice(invoice_id)
    if invoice["status"] == "paid":
        raise ChargebeeError(
            400, "invalid_state_for_request", "Payment has been received for the invoice."
        )
    invoice = _in_state(invoice_id, ("payment_due", "posted", "not_paid", "pending"), "voided")
    invoice |= {"status": "voided", "voided_at": int(time.time())}
    return {"invoice": invoice}


def record_payment(form: dict, invoice_id: str) -> dict:
    invoice = _in_state(invoice_id, ("payment_due", "posted", "not_paid"), "paid")
    payment = {"txn_id": f"txn_{next(store.numbers)}", "applied_amount": invoice["amount_due"],
               "txn_status": "success", "txn_amount": invoice["amount_due"]}  # fmt: skip
    invoice |= {"status": "paid", "amount_paid": invoice["amount_due"], "amount_due": 0}
    invoice["linked_payments"] = [*invoice.get("linked_payments", []), payment]
    return {"invoice": invoice}


def dispute_payment(form: dict, invoice_id: str) -> dict:
    """Test-only: the customer disputes the last payment of a paid invoice."""
    invoice = store.invoice(invoice_id)
    if not invoice.get("linked_payments"):
        raise ChargebeeError(400, "invalid_state_for_request", f"invoice {invoice_id} is unpaid")
    payment = invoice["linked_payments"][-1]
    dispute = {
        "id": f"dispute_{next(store.numbers)}",
        "object": "dispute",
        "customer_id": invoice["customer_id"],
        "transaction_id": payment["txn_id"],
        "currency_code": invoice["currency_code"],
        "amount": _integer(form.get("amount", payment["txn_amount"]), "amount"),
        "reason": form.get("reason", "fraud"),
        "status": "initiated",
        "type": "chargeback",
        "created_at": int(time.time()),
    }
    store.disputes[dispute["id"]] = dispute
    return {"dispute": dispute}


def list_disputes(query: dict) -> dict:
    found = [d for d in store.disputes.values() if _matches(d, query)]
    return _page(found, query, "dispute")


def retrieve_dispute(query: dict, dispute_id: str) -> dict:
    if dispute_id not in store.disputes:
        raise ChargebeeError(404, "resource_not_found", f"dispute {dispute_id} not found")
    return {"dispute": store.disputes[dispute_id]}


def move_dispute(form: dict, dispute_id: str) -> dict:
    """Test-only: the card network reviews or decides the dispute."""
    dispute = retrieve_dispute({}, dispute_id)["dispute"]
    if dispute["status"] in ("won", "lost", "cancelled"):
        raise ChargebeeError(400, "invalid_state_for_request", f"dispute is {dispute['status']}")
    if form.get("status") not in ("in_review", "funds_withdrawn", "won", "lost", "cancelled"):
        raise ChargebeeError(400, "param_wrong_value", "status : invalid value")
    dispute["status"] = form["status"]
    return {"dispute": dispute}


def create_credit_note(form: dict) -> dict:
    invoice = store.invoice(form.get("reference_invoice_id", ""))
    total = _integer(form.get("total"), "total")
    kind = form.get("type")
    if kind not in ("adjustment", "refundable"):
        raise ChargebeeError(400, "param_wrong_value", "type : invalid value")
    if invoice["status"] == "voided":
        raise ChargebeeError(400, "invalid_state_for_request", "The invoice is voided.")
    credited = sum(
        n["total"]
        for n in store.credit_notes.values()
        if n["reference_invoice_id"] == invoice["id"]
    )
    if total < 1 or credited + total > invoice["total"]:
        raise ChargebeeError(
            400,
            "param_wrong_value",
            f"total : cannot be more than the invoice's creditable {invoice['total'] - credited}",
        )
    if kind == "adjustment":
        if invoice["status"] == "paid":
            raise ChargebeeError(
                400, "invalid_state_for_request", "adjustment credit notes need an unpaid invoice"
            )
        invoice["amount_due"] -= total
    note = {
        "id": f"CN-{next(store.numbers)}",
        "customer_id": invoice["customer_id"],
        "reference_invoice_id": invoice["id"],
        "type": kind,
        "reason_code": form.get("reason_code"),
        "status": "adjusted" if kind == "adjustment" else "refund_due",
        "currency_code": invoice["currency_code"],
        "total": total,
        "amount_refunded": 0,
        "notes": [form["customer_notes"]] if form.get("customer_notes") else [],
        "object": "credit_note",
    }
    store.credit_notes[note["id"]] = note
    return {"credit_note": note}


def refund_credit_note(form: dict, note_id: str) -> dict:
    """Refunds a refundable credit note to the invoice's payment."""
    note = store.credit_notes.get(note_id)
    if note is None:
        raise ChargebeeError(404, "resource_not_found", f"credit note {note_id} not found")
    amount = _integer(
        form.get("refund_amount", note["total"] - note["amount_refunded"]), "refund_amount"
    )
    if (
        note["type"] != "refundable"
        or amount < 1
        or note["amount_refunded"] + amount > note["total"]
    ):
        raise ChargebeeError(
            400, "invalid_state_for_request", f"credit note {note_id} cannot be refunded {amount}"
        )
    note["amount_refunded"] += amount
    note["status"] = "refunded" if note["amount_refunded"] == note["total"] else "refund_due"
    transaction = {
        "id": f"txn_{next(store.numbers)}",
        "type": "refund",
        "amount": amount,
        "currency_code": note["currency_code"],
        "status": "success",
        "object": "transaction",
    }
    return {"credit_note": note, "transaction": transaction}


def list_credit_notes(query: dict) -> dict:
    found = [n for n in store.credit_notes.values() if _matches(n, query)]
    return _page(found, query, "credit_note")


# -- helpers ------------------------------------------------------------------------------


def _in_state(invoice_id: str, allowed: tuple[str, ...], target: str) -> dict:
    invoice = store.invoice(invoice_id)
    if invoice["status"] not in allowed:
        raise ChargebeeError(
            400,
            "invalid_state_for_request",
            f"invoice {invoice_id} is {invoice['status']}: it cannot become {target}",
        )
    return invoice


def _indexed(form: dict, name: str) -> list[dict]:
    """`charges[amount][0]=...` as [{"amount": ...}, ...]."""
    rows: dict[int, dict] = {}
    for key, value in form.items():
        if key.startswith(f"{name}[") and key.endswith("]"):
            field, index = key[len(name) + 1 : -1].split("][")
            rows.setdefault(int(index), {})[field] = value
    return [rows[i] for i in sorted(rows)]


def _integer(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ChargebeeError(400, "param_wrong_value", f"{name} : invalid integer") from None


def _matches(found: dict, query: dict) -> bool:
    """The `field[is]=value` filters of a list request."""
    for key, value in query.items():
        if key.endswith("[is]") and str(found.get(key[: -len("[is]")])) != value:
            return False
    return True


def _page(found: list[dict], query: dict, kind: str) -> dict:
    limit = min(int(query.get("limit", 10)), PAGE_LIMIT)
    start = int(query.get("offset") or 0)
    page = {"list": [{kind: item} for item in found[start : start + limit]]}
    if start + limit < len(found):
        page["next_offset"] = str(start + limit)
    return page


ROUTES = [
    ("POST", "/customers", create_customer),
    ("GET", "/customers/{id}", retrieve_customer),
    ("POST", "/customers/{id}/clear_personal_data", clear_personal_data),
    ("POST", "/invoices", create_invoice),
    ("GET", "/invoices", list_invoices),
    ("GET", "/invoices/{id}", retrieve_invoice),
    ("POST", "/invoices/{id}/close", close_invoice),
    ("POST", "/invoices/{id}/void", void_invoice),
    ("POST", "/invoices/{id}/record_payment", record_payment),
    ("POST", "/credit_notes", create_credit_note),
    ("GET", "/credit_notes", list_credit_notes),
    ("POST", "/credit_notes/{id}/refund", refund_credit_note),
    ("GET", "/disputes", list_disputes),
    ("GET", "/disputes/{id}", retrieve_dispute),
]

#: Test-only routes, outside the API's path.
TEST_ROUTES = [
    ("POST", "/_test/invoices/{id}/dispute", dispute_payment),
    ("POST", "/_test/disputes/{id}/status", move_dispute),
]


def _handler(method: str, action):
    async def handle(request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Basic "):
            return _error(ChargebeeError(401, "api_authentication_failed", "no API key", "auth"))
        key = request.headers.get("chargebee-idempotency-key") if method == "POST" else None
        if key and key in store.replays:
            status, body = store.replays[key]
            return web.json_response(
                body, status=status, headers={"chargebee-idempotency-replayed": "true"}
            )
        data = dict(await request.post()) if method == "POST" else dict(request.query)
        try:
            status, body = 200, action(data, *request.match_info.values())
        except ChargebeeError as error:
            status, body = error.status, _error_body(error)
        if key:
            store.replays[key] = (status, body)
        return web.json_response(body, status=status)

    return handle


def _error_body(error: ChargebeeError) -> dict:
    return {
        "message": str(error),
        "type": error.kind,
        "api_error_code": error.code,
        "http_status_code": error.status,
    }


def _error(error: ChargebeeError) -> web.Response:
    return web.json_response(_error_body(error), status=error.status)


def app() -> web.Application:
    return fake_server.application(
        [(method, API + path, _handler(method, action)) for method, path, action in ROUTES]
        + [(method, path, _handler(method, action)) for method, path, action in TEST_ROUTES],
        lambda: {
            "customer": list(store.customers.values()),
            "invoice": list(store.invoices.values()),
            "credit_note": list(store.credit_notes.values()),
            "dispute": list(store.disputes.values()),
        },
        store.__init__,
    )


def start(**popen):
    """A fake Chargebee server in a subprocess, on a free port, for the block: its base URL."""
    return fake_server.start("testbed.fake_chargebee", **popen)


if __name__ == "__main__":
    fake_server.serve(app())
