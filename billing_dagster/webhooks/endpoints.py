"""Webhook endpoints: a URL and the event types it receives. Rows are append-only (the
latest row of an endpoint is in force); the signing secret never enters the warehouse: it
is a file under `<home>/webhooks/`, owner-only, read by whoever delivers."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.webhooks.outbox import EVENT_TYPES


class EndpointError(ValueError):
    """A webhook endpoint cannot be added or found; the message says why."""


ENDPOINT_COLUMNS = ["endpoint_id", "url", "event_types", "created_at", "removed_at", "changed_at"]


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime


def add_endpoint(
    client: Client,
    database: str,
    home: Path,
    url: str,
    event_types: list[str],
    secret: str | None = None,
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (made when not given)."""
    if not url.startswith(("http://", "https://")):
        raise EndpointError(f"the URL must start with http:// or https://, got {url!r}")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise EndpointError(
            f"unknown event type {', '.join(unknown) or '(none given)'}; choose among "
            f"{', '.join(EVENT_TYPES)}"
        )
    secret = secret or f"whsec_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    endpoint = Endpoint(f"we_{secrets.token_hex(8)}", url, tuple(event_types), now)
    _write_secret(home, endpoint.endpoint_id, secret)
    client.insert(
        f"`{database}`.webhook_endpoints",
        [[endpoint.endpoint_id, url, list(event_types), now, None, now]],
        column_names=ENDPOINT_COLUMNS,
    )
    return endpoint, secret


def remove_endpoint(client: Client, database: str, endpoint_id: str) -> Endpoint:
    endpoint = next((e for e in endpoints(client, database) if e.endpoint_id == endpoint_id), None)
    if endpoint is None:
        raise EndpointError(
            f"no webhook endpoint {endpoint_id!r}; `billing webhooks list` shows them"
        )
    now = datetime.now(UTC)
    client.insert(
        f"`{database}`.webhook_endpoints",
        [[endpoint_id, endpoint.url, list(endpoint.event_types), endpoint.created_at, now, now]],
        column_names=ENDPOINT_COLUMNS,
    )
    return endpoint


def endpoints(client: Client, database: str) -> list[Endpoint]:
    """The endpoints in force, oldest first."""
    rows = client.query(
        f"SELECT endpoint_id, argMax(url, changed_at), argMax(event_types, changed_at), "
        f"min(created_at), argMax(removed_at, changed_at) AS removed "
        f"FROM `{database}`.webhook_endpoints GROUP BY endpoint_id HAVING removed IS NULL "
        f"ORDER BY min(created_at), endpoint_id"
    ).result_rows
    return [
        Endpoint(endpoint_id, url, tuple(types), created.replace(tzinfo=UTC))
        for endpoint_id, url, types, created, _ in rows
    ]


def signing_secret(home: Path, endpoint_id: str) -> str:
    return (_secrets_dir(home) / endpoint_id).read_text()


def _write_secret(home: Path, endpoint_id: str, secret: str) -> None:
    directory = _secrets_dir(home)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(directory / endpoint_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)


def _secrets_dir(home: Path) -> Path:
    return Path(home) / "webhooks"
