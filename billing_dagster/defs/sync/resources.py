"""The payment gateways a sync talks to, configured from the environment."""

from __future__ import annotations

from dataclasses import fields

import dagster as dg

from billing_dagster.defs.resources import secret
from billing_dagster.gateways.config import GatewayCredentials, Gateways, make_gateway
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.settings import GatewaySettings


class GatewayResource(dg.ConfigurableResource):
    """`gateway` is the project's default (`stripe`, `chargebee`, `razorpay` or `file`); a
    customer may name another in the catalog. Keys are secrets Dagster reads at run time."""

    gateway: str = "file"
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    chargebee_api_key: str = ""
    chargebee_site: str = ""
    chargebee_api_base: str = ""
    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_api_base: str = ""
    directory: str = ""
    retry_attempts: int = 6
    retry_base_seconds: float = 0.2

    @classmethod
    def from_settings(cls, gateway: GatewaySettings, directory: str) -> GatewayResource:
        """Keys are never logged: `EnvVar`s, read by Dagster at run time."""
        return cls(
            gateway=gateway.kind,
            stripe_api_key=secret("STRIPE_API_KEY"),
            stripe_api_base=gateway.stripe_api_base,
            chargebee_api_key=secret("CHARGEBEE_API_KEY"),
            chargebee_site=gateway.chargebee_site,
            chargebee_api_base=gateway.chargebee_api_base,
            razorpay_key_id=secret("RAZORPAY_KEY_ID"),
            razorpay_key_secret=secret("RAZORPAY_KEY_SECRET"),
            razorpay_api_base=gateway.razorpay_api_base,
            directory=directory,
            retry_attempts=gateway.retry_attempts,
            retry_base_seconds=gateway.retry_base_seconds,
        )

    def get_gateways(self) -> Gateways:
        credentials = GatewayCredentials(
            **{f.name: getattr(self, f.name) for f in fields(GatewayCredentials)}
        )
        return Gateways(self.gateway, lambda name: make_gateway(name, credentials))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retry_attempts, base_seconds=self.retry_base_seconds)
