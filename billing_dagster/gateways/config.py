"""Which gateway a sync talks to, from settings (the Dagster resource reads them from env)."""

from __future__ import annotations

from billing_dagster.gateways.base import Gateway, GatewayError

GATEWAYS = ("stripe", "file")


def make_gateway(
    kind: str, stripe_api_key: str = "", stripe_api_base: str = "", directory: str = ""
) -> Gateway:
    if kind == "stripe":
        from billing_dagster.gateways.stripe_gateway import StripeGateway  # the SDK loads slowly

        return StripeGateway(stripe_api_key, stripe_api_base)
    if kind == "file":
        from billing_dagster.gateways.file_gateway import FileGateway

        return FileGateway(directory)
    raise GatewayError(f"BILLING_GATEWAY={kind!r}: expected one of {', '.join(GATEWAYS)}")
