"""What the fake Stripe server holds, and the exactly-once assertions the tests make on it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from billing_dagster.gateways.base import minor_units


def stripe_objects(stripe_server: str) -> dict[str, list[dict]]:
    """Every customer, invoice, invoice item and credit note (read around the proxy)."""
    with urllib.request.urlopen(f"{stripe_server}/_config/objects") as response:
        return json.load(response)


def assert_exactly_once(stripe_server: str, invoices: list[dict]) -> dict[str, dict]:
    """Each invoice exists once on Stripe with exactly our lines and our total, each customer
    once; returns the Stripe invoices by our id."""
    objects = stripe_objects(stripe_server)
    customers = [c["metadata"]["billing_customer_id"] for c in objects.get("customer", [])]
    assert sorted(customers) == sorted({i["customer_id"] for i in invoices})
    remote = {}
    for found in objects.get("invoice", []):
        our_id = found["metadata"]["billing_invoice_id"]
        assert our_id not in remote, f"{our_id} is on Stripe twice"
        remote[our_id] = found
    assert sorted(remote) == sorted(i["invoice_id"] for i in invoices)
    items = objects.get("invoiceitem", [])
    for invoice in invoices:
        found = remote[invoice["invoice_id"]]
        pushed = sorted(
            (int(i["metadata"]["billing_line_no"]), i["amount"], i["currency"])
            for i in items
            if i["invoice"] == found["id"]
        )
        currency = invoice["currency"]
        assert pushed == [
            (n, minor_units(line["amount"], currency), currency.lower())
            for n, line in enumerate(invoice["lines"], start=1)
        ], invoice["invoice_id"]
        assert found["total"] == minor_units(invoice["total"], currency)
        assert found["currency"] == currency.lower()
    return remote


def open_dispute(stripe_server: str, gateway_invoice: str, **fields: str) -> dict:
    """The customer pays the invoice by card and disputes the payment (the fake's test-only
    route, as Stripe's test cards do)."""
    return _post(f"{stripe_server}/_config/invoices/{gateway_invoice}/dispute", fields)


def move_dispute(stripe_server: str, dispute_id: str, status: str) -> dict:
    """The card network's decision on a dispute: `under_review`, `won` or `lost`."""
    return _post(f"{stripe_server}/_config/disputes/{dispute_id}/status", {"status": status})


def _post(url: str, fields: dict[str, str]) -> dict:
    body = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as response:
        return json.load(response)
