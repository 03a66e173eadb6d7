"""Portal sessions: a link that lets one customer read its own billing, read-only, for a
while (60 minutes unless asked, at most 180).

The token is shown once, as `ps_<session id>_<secret>`. The warehouse keeps the session id,
the customer, the expiry and the SHA-256 of the secret, which is checked in constant time
(256 random bits, as for API keys: a plain hash is as strong as a slow one). A token
reaches its own customer only; everything else answers as if it did not exist."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.entitlements.exact import as_utc

DEFAULT_TTL_MINUTES = 60
MAX_TTL_MINUTES = 180
PREFIX = "ps"
_PRESENTED = re.compile(rf"{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})")


class SessionRefused(PermissionError):
    """The token does not open the portal (HTTP 401): malformed, unknown or expired."""


@dataclass(frozen=True)
class PortalSession:
    session_id: str
    customer_id: str
    expires_at: datetime


def checked_ttl(minutes: int) -> int:
    """The lifetime asked for, if allowed."""
    if not 1 <= minutes <= MAX_TTL_MINUTES:
        raise ValueError(
            f"a portal link lives 1 to {MAX_TTL_MINUTES} minutes, not {minutes}; "
            f"ask for a new link when it expires"
        )
    return minutes


def open_session(
    client: Client,
    database: str,
    customer_id: str,
    ttl_minutes: int,
    now: datetime,
    created_by: str,
) -> tuple[str, PortalSession]:
    """A new session for a customer of the catalog in force, and its token (shown once)."""
    db = f"`{database}`"
    known = client.command(
        f"SELECT count() FROM {db}.catalog_customers WHERE {IN_FORCE.format(db=db)} "
        f"AND customer_id = {{customer:String}}",
        parameters={"customer": customer_id},
    )
    if not int(known):
        raise LookupError(f"no customer {customer_id!r} in the catalog in force")
    session = PortalSession(
        secrets.token_hex(8), customer_id, now + timedelta(minutes=checked_ttl(ttl_minutes))
    )
    secret = secrets.token_urlsafe(32)
    client.insert(
        f"{db}.portal_sessions",
        [[session.session_id, customer_id, _digest(secret), now, session.expires_at, created_by]],
        column_names=[
            "session_id",
            "customer_id",
            "secret_sha256",
            "created_at",
            "expires_at",
            "created_by",
        ],
    )
    return f"{PREFIX}_{session.session_id}_{secret}", session


def session_of(client: Client, database: str, presented: str, now: datetime) -> PortalSession:
    """The session a token opens now."""
    match = _PRESENTED.fullmatch(presented)
    if match is None:
        raise SessionRefused("not a portal token; open the portal with the link you were given")
    session_id, secret = match.groups()
    rows = client.query(
        f"SELECT customer_id, secret_sha256, expires_at FROM `{database}`.portal_sessions "
        f"WHERE session_id = {{id:String}}",
        parameters={"id": session_id},
    ).result_rows
    if not rows or not hmac.compare_digest(rows[0][1], _digest(secret)):
        raise SessionRefused("unknown portal token; open the portal with the link you were given")
    customer_id, _, expires_at = rows[0]
    session = PortalSession(session_id, customer_id, as_utc(expires_at))
    if now >= session.expires_at:
        raise SessionRefused(
            f"this portal link expired at {session.expires_at.isoformat()}; ask for a new one"
        )
    return session


def portal_url(base_url: str, token: str) -> str:
    """The link the customer opens: the portal of `billing serve` at `base_url`."""
    return f"{base_url.rstrip('/')}/portal/{token}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
