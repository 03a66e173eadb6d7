"""Each gateway asked to erase a customer: its personal data goes, its invoices stay."""

from __future__ import annotations

from billing_dagster.erasure.tombstones import TOMBSTONE
from billing_dagster.gateways.stripe_gateway import StripeGateway
from tests.gateways.stripe_state import stripe_objects

NAME = 'Ada O\'Hara "Consulting"'


def test_stripe_redacts_the_customer(proxy, stripe_server):
    gateway = StripeGateway("sk_test_erasure", proxy.url)
    remote = gateway.create_customer("ada-erasure", NAME)
    assert gateway.erase_customer(remote) == "name, email, phone and description redacted"
    [customer] = [c for c in stripe_objects(stripe_server)["customer"] if c["id"] == remote]
    assert (customer["name"], customer["email"]) == (TOMBSTONE, "")
    assert gateway.find_customer("ada-erasure") == remote  # still found for later documents


def test_chargebee_and_razorpay_erase_the_customer(vendor):
    gateway = vendor.gateway()
    remote = gateway.create_customer("ada", NAME)
    result = gateway.erase_customer(remote)
    [customer] = [c for c in vendor.objects()["customer"] if c["id"] == remote]
    if vendor.name == "chargebee":
        assert result == "personal data cleared (clear_personal_data)"
        assert "company" not in customer
    else:
        assert result == "name, email and contact redacted"
        assert (customer["name"], customer["email"], customer["contact"]) == (TOMBSTONE, "", "")
    assert NAME not in str(customer)
