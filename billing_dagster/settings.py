"""The project's settings, read from the environment once, checked, and named in one place.

The CLI, the Dagster resources and the dbt profile all take the warehouse from the same
variables; the CLI and the finalization schedule the same grace days; the sync the same
gateway. A value that cannot be used is refused here, saying which variable and why.
Secrets (`CLICKHOUSE_PASSWORD` and the gateways' keys) are only noted as set: Dagster reads them
at run time, so they never land in a definition or a log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from billing_dagster.gateways.config import GATEWAYS
from billing_dagster.invoicing.finalization import DEFAULT_GRACE_DAYS

DEFAULT_DATABASE = "billing"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TRUE = ("1", "true", "yes")


class SettingsError(ValueError):
    """A variable of the environment holds a value that cannot be used."""


@dataclass(frozen=True)
class WarehouseSettings:
    """The ClickHouse server to use; none (`host` empty) means the embedded one of the home."""

    host: str = ""
    port: int = 0
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = DEFAULT_DATABASE
    #: Where the server's `file()` reads from, which must hold the landing zone.
    files_root: str = ""


@dataclass(frozen=True)
class GatewaySettings:
    kind: str = "file"
    stripe_api_base: str = ""
    chargebee_site: str = ""
    chargebee_api_base: str = ""
    razorpay_api_base: str = ""
    directory: str = ""  # the file gateway's folder; `<home>/gateway` when empty
    retry_attempts: int = 6
    retry_base_seconds: float = 0.2


@dataclass(frozen=True)
class Settings:
    warehouse: WarehouseSettings
    finalize_grace_days: int
    gateway: GatewaySettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        read = _Reader(environ)
        settings = cls(
            warehouse=WarehouseSettings(
                host=read.text("CLICKHOUSE_HOST"),
                port=read.number("CLICKHOUSE_PORT", 0),
                user=read.text("CLICKHOUSE_USER") or "default",
                password=read.text("CLICKHOUSE_PASSWORD"),
                secure=read.text("CLICKHOUSE_SECURE").lower() in _TRUE,
                database=read.identifier("CLICKHOUSE_DATABASE", DEFAULT_DATABASE),
                files_root=read.text("CLICKHOUSE_USER_FILES_PATH"),
            ),
            finalize_grace_days=read.number("BILLING_FINALIZE_GRACE_DAYS", DEFAULT_GRACE_DAYS),
            gateway=GatewaySettings(
                kind=read.choice("BILLING_GATEWAY", GATEWAYS, "file"),
                stripe_api_base=read.text("STRIPE_API_BASE"),
                chargebee_site=read.text("CHARGEBEE_SITE"),
                chargebee_api_base=read.text("CHARGEBEE_API_BASE"),
                razorpay_api_base=read.text("RAZORPAY_API_BASE"),
                directory=read.text("BILLING_GATEWAY_DIR"),
                retry_attempts=read.number("BILLING_GATEWAY_RETRIES", 6),
                retry_base_seconds=read.seconds("BILLING_GATEWAY_RETRY_BASE_SECONDS", 0.2),
            ),
        )
        return settings

    def gateway_directory(self, home: Path) -> str:
        return self.gateway.directory or str(home / "gateway")


class _Reader:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str:
        return self.environ.get(name, "")

    def number(self, name: str, default: int) -> int:
        text = self.text(name)
        if not text:
            return default
        if not text.isdigit():
            raise SettingsError(f"{name}={text!r}: expected a whole number, e.g. {default}")
        return int(text)

    def seconds(self, name: str, default: float) -> float:
        text = self.text(name)
        if not text:
            return default
        if not re.fullmatch(r"\d+(\.\d+)?", text):
            raise SettingsError(f"{name}={text!r}: expected a number of seconds, e.g. {default}")
        return float(text)

    def identifier(self, name: str, default: str) -> str:
        text = self.text(name) or default
        if not _IDENTIFIER.fullmatch(text):
            raise SettingsError(
                f"{name}={text!r}: expected a database name of letters, digits and "
                f"underscores, not starting with a digit"
            )
        return text

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self.text(name) or default
        if text not in choices:
            raise SettingsError(f"{name}={text!r}: expected one of {', '.join(choices)}")
        return text
