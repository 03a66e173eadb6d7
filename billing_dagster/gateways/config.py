"""Which gateways a sync talks to: each customer's own (`gateway:` in the catalog) or the
project's default (`BILLING_GATEWAY`), built from settings the Dagster resource reads from env."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from billing_dagster.catalog.model import CURRENCY_MINOR_UNITS
from billing_dagster.gateways.base import (
    Gateway,
    GatewayAuthenticationError,
    GatewayError,
    RefusingGateway,
)

GATEWAYS = ("stripe", "chargebee", "razorpay", "file")

#: The catalog's currencies each gateway invoices in, checked by `catalog apply` (Razorpay
#: invoices in INR and a few international currencies; none of them zero-decimal).
CURRENCIES: dict[str, frozenset[str]] = {
    "stripe": frozenset(CURRENCY_MINOR_UNITS),
    "chargebee": frozenset(CURRENCY_MINOR_UNITS),
    "razorpay": frozenset({"INR", "USD", "EUR", "GBP"}),
    "file": frozenset(CURRENCY_MINOR_UNITS),
}


@dataclass(frozen=True)
class GatewayCredentials:
    """Everything the gateways need; secrets arrive here only inside a run, from env."""

    stripe_api_key: str = ""
    stripe_api_base: str = ""
    chargebee_api_key: str = ""
    chargebee_site: str = ""
    chargebee_api_base: str = ""
    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_api_base: str = ""
    directory: str = ""


def make_gateway(kind: str, credentials: GatewayCredentials) -> Gateway:
    """The gateway `kind`; the SDKs load slowly, so each only when used."""
    c = credentials
    if kind == "stripe":
        from billing_dagster.gateways.stripe_gateway import StripeGateway

        return StripeGateway(c.stripe_api_key, c.stripe_api_base)
    if kind == "chargebee":
        from billing_dagster.gateways.chargebee_gateway import ChargebeeGateway

        return ChargebeeGateway(c.chargebee_api_key, c.chargebee_site, c.chargebee_api_base)
    if kind == "razorpay":
        from billing_dagster.gateways.razorpay_gateway import RazorpayGateway

        return RazorpayGateway(c.razorpay_key_id, c.razorpay_key_secret, c.razorpay_api_base)
    if kind == "file":
        from billing_dagster.gateways.file_gateway import FileGateway

        return FileGateway(c.directory)
    raise GatewayError(f"gateway {kind!r}: expected one of {', '.join(GATEWAYS)}")


class Gateways:
    """The project's gateways by name, each built when first used. One that cannot be built
    (its credentials missing) refuses every request with the reason, so only its customers'
    documents fail."""

    def __init__(self, default: str, make: Callable[[str], Gateway]):
        self.default, self._make = default, make
        self._built: dict[str, Gateway] = {}

    @classmethod
    def only(cls, gateway: Gateway) -> Gateways:
        """Every customer on `gateway` (a one-gateway project, a test, a benchmark)."""
        return cls(gateway.name, lambda name: gateway)

    def get(self, name: str) -> Gateway:
        if name not in self._built:
            try:
                self._built[name] = self._make(name)
            except GatewayError as error:
                # Refused like credentials: none of its customers' documents can go.
                self._built[name] = RefusingGateway(
                    name, False, GatewayAuthenticationError, str(error)
                )
        return self._built[name]
