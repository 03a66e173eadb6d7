"""Resources shared by every area: the warehouse and the billing home."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dagster as dg
from clickhouse_connect.driver.client import Client

from billing_dagster.invoicing.finalization import DEFAULT_GRACE_DAYS
from billing_dagster.settings import DEFAULT_DATABASE, WarehouseSettings
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema


def secret(name: str) -> str | dg.EnvVar:
    """A secret is read by Dagster at run time (never logged), only when it is set."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


class ClickHouseResource(dg.ConfigurableResource):
    """The warehouse: a ClickHouse server when `host` is set, else the embedded one of `home`.

    Every client it hands out finds the project's tables in place (`ensure_schema`).
    """

    home: str
    host: str = ""
    port: int = 0
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = DEFAULT_DATABASE
    files_root: str = ""

    def settings(self) -> ClickHouseSettings:
        return ClickHouseSettings.resolve(
            Path(self.home),
            self.host,
            self.port,
            self.user,
            self.password,
            self.secure,
            self.database,
            self.files_root,
        )

    @classmethod
    def from_settings(cls, home: str, warehouse: WarehouseSettings) -> ClickHouseResource:
        """The password is never logged: an `EnvVar`, read by Dagster at run time."""
        fields = dataclasses.asdict(warehouse)
        return cls(home=home, **{**fields, "password": secret("CLICKHOUSE_PASSWORD")})

    @classmethod
    def of(cls, home: Path, settings: ClickHouseSettings) -> ClickHouseResource:
        """The resource for a warehouse whose settings are known (tests, benchmarks)."""
        return cls(
            home=str(home),
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            secure=settings.secure,
            database=settings.database,
            files_root=settings.files_root,
        )

    def get_client(self) -> Client:
        client = self.settings().client()
        ensure_schema(client, self.database)
        return client


class BillingHomeResource(dg.ConfigurableResource):
    """The billing home (`--home`, `BILLING_HOME`): landing zone, locks, embedded warehouse."""

    home: str

    @property
    def path(self) -> Path:
        return Path(self.home)


class BillingPolicyResource(dg.ConfigurableResource):
    """Billing rules that are settings, not catalog: the grace period before finalizing."""

    finalize_grace_days: int = DEFAULT_GRACE_DAYS
