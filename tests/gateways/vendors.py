"""Chargebee and Razorpay as the tests see them: the gateway through the fault proxy, what
the fake server holds, and the exactly-once assertions made on it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass

from billing_dagster.gateways.base import minor_units
from billing_dagster.gateways.chargebee_gateway import ChargebeeGateway
from billing_dagster.gateways.charges import positive_charges
from billing_dagster.gateways.razorpay_gateway import RazorpayGateway
from testbed.documents import three_currencies
from tests.gateways.faults import FaultProxy

VENDORS = ("chargebee", "razorpay")
#: The currencies each is tested in: Chargebee USD, EUR, JPY; Razorpay USD and INR.
CURRENCIES = {"chargebee": {}, "razorpay": {"EUR": "INR", "JPY": "INR"}}


@dataclass
class Vendor:
    name: str
    server: str
    proxy: FaultProxy

    def gateway(self):
        if self.name == "chargebee":
            return ChargebeeGateway("test_key", "test-site", self.proxy.url)
        return RazorpayGateway("rzp_test_id", "test_secret", self.proxy.url)

    def documents(self, period: str) -> list[dict]:
        """The three test invoices, in this gateway's currencies."""
        swap = CURRENCIES[self.name]
        return [
            i | {"currency": swap.get(i["currency"], i["currency"])}
            for i in three_currencies(period)
        ]

    def objects(self) -> dict[str, list[dict]]:
        """Everything the fake server holds (read around the proxy)."""
        with urllib.request.urlopen(f"{self.server}/_config/objects") as response:
            return json.load(response)

    def pay(self, gateway_invoice: str) -> None:
        """The customer pays the invoice, on the gateway's side."""
        path = {
            "chargebee": f"/api/v2/invoices/{gateway_invoice}/record_payment",
            "razorpay": f"/_test/invoices/{gateway_invoice}/pay",
        }[self.name]
        self._post(path, {})

    def open_dispute(self, gateway_invoice: str) -> dict:
        """The customer disputes the payment of the paid invoice (the fake's test route)."""
        found = self._post(f"/_test/invoices/{gateway_invoice}/dispute", {})
        return found.get("dispute", found)

    def move_dispute(self, dispute_id: str, status: str) -> None:
        """The bank's decision on a dispute, in the gateway's own words."""
        self._post(f"/_test/disputes/{dispute_id}/status", {"status": status})

    def _post(self, path: str, fields: dict[str, str]) -> dict:
        """Chargebee takes a form, Razorpay JSON."""
        if self.name == "chargebee":
            body, kind = urllib.parse.urlencode(fields).encode(), "x-www-form-urlencoded"
        else:
            body, kind = json.dumps(fields).encode(), "json"
        request = urllib.request.Request(
            self.server + path,
            data=body,
            method="POST",
            headers={"Authorization": "Basic dGVzdDo=", "Content-Type": f"application/{kind}"},
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def assert_exactly_once(self, invoices: list[dict]) -> dict[str, dict]:
        """Each customer and invoice once, each invoice with our charges and total; returns
        the gateway's invoices by our id."""
        objects = self.objects()
        customers = [self._our_customer(c) for c in objects.get("customer", [])]
        assert sorted(customers) == sorted({i["customer_id"] for i in invoices})
        remote: dict[str, dict] = {}
        for found in objects.get("invoice", []):
            our_id = self._our_invoice(found)
            assert our_id not in remote, f"{our_id} is on {self.name} twice"
            remote[our_id] = found
        assert sorted(remote) == sorted(i["invoice_id"] for i in invoices)
        for invoice in invoices:
            found, currency = remote[invoice["invoice_id"]], invoice["currency"]
            assert [line["amount"] for line in found["line_items"]] == [
                charge.amount_minor for charge in positive_charges(invoice)
            ], invoice["invoice_id"]
            total = found["total"] if self.name == "chargebee" else found["amount"]
            assert total == minor_units(invoice["total"], currency)
            assert found.get("currency_code", found.get("currency")) == currency
        return remote

    def credit_notes(self) -> list[dict]:
        """Chargebee's credit notes, or Razorpay's refunds."""
        return self.objects().get("credit_note" if self.name == "chargebee" else "refund", [])

    def _our_customer(self, customer: dict) -> str:
        if self.name == "chargebee":  # our test ids are valid Chargebee ids: used as they are
            return customer["id"]
        return customer["notes"]["billing_customer_id"]

    def _our_invoice(self, invoice: dict) -> str:
        if self.name == "chargebee":
            return invoice["po_number"]
        return invoice["notes"]["billing_invoice_id"]
