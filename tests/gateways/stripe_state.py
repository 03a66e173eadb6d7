"""What the fake Stripe server holds, and the exactly-once assertions the tests make on it."""

from __future__ import annotations

import json
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
