"""The payment gateway a sync talks to, configured from the environment."""

from __future__ import annotations

import dagster as dg

from billing_dagster.defs.resources import secret
from billing_dagster.gateways.base import Gateway
from billing_dagster.gateways.config import make_gateway
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.settings import GatewaySettings


class GatewayResource(dg.ConfigurableResource):
    """`gateway` is `stripe` or `file`; the Stripe key is a secret Dagster reads at run time."""

    gateway: str = "file"
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    directory: str = ""
    retry_attempts: int = 6
    retry_base_seconds: float = 0.2

    @classmethod
    def from_settings(cls, gateway: GatewaySettings, directory: str) -> GatewayResource:
        """STRIPE_API_KEY is never logged: an `EnvVar`, read by Dagster at run time."""
        return cls(
            gateway=gateway.kind,
            stripe_api_key=secret("STRIPE_API_KEY"),
            stripe_api_base=gateway.stripe_api_base,
            directory=directory,
            retry_attempts=gateway.retry_attempts,
            retry_base_seconds=gateway.retry_base_seconds,
        )

    def get_gateway(self) -> Gateway:
        return make_gateway(self.gateway, self.stripe_api_key, self.stripe_api_base, self.directory)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retry_attempts, base_seconds=self.retry_base_seconds)
