"""The payment gateway a sync talks to, configured from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from billing_dagster.gateways.base import Gateway
from billing_dagster.gateways.config import make_gateway
from billing_dagster.gateways.retry import RetryPolicy


class GatewayResource(dg.ConfigurableResource):
    """`gateway` is `stripe` or `file`; the Stripe key is a secret Dagster reads at run time."""

    gateway: str = "file"
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    directory: str = ""
    retry_attempts: int = 6
    retry_base_seconds: float = 0.2

    def get_gateway(self) -> Gateway:
        return make_gateway(self.gateway, self.stripe_api_key, self.stripe_api_base, self.directory)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retry_attempts, base_seconds=self.retry_base_seconds)


def gateway_resource(home: str) -> GatewayResource:
    """From BILLING_GATEWAY (default `file`, into `<home>/gateway`), STRIPE_API_KEY (never
    logged: an `EnvVar`), STRIPE_API_BASE, BILLING_GATEWAY_DIR, BILLING_GATEWAY_RETRIES and
    BILLING_GATEWAY_RETRY_BASE_SECONDS."""
    key = dg.EnvVar("STRIPE_API_KEY") if os.environ.get("STRIPE_API_KEY") else ""
    return GatewayResource(
        gateway=os.environ.get("BILLING_GATEWAY") or "file",
        stripe_api_key=key,
        stripe_api_base=os.environ.get("STRIPE_API_BASE", ""),
        directory=os.environ.get("BILLING_GATEWAY_DIR") or str(Path(home) / "gateway"),
        retry_attempts=int(os.environ.get("BILLING_GATEWAY_RETRIES") or 6),
        retry_base_seconds=float(os.environ.get("BILLING_GATEWAY_RETRY_BASE_SECONDS") or 0.2),
    )
