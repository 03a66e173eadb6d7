"""API keys: what ties a caller of the billing API to a scope and, optionally, a customer.

A key is shown once, as `bk_<key id>_<secret>`: the key id finds its row, and the secret is
checked against its SHA-256 in constant time (secrets are 256 random bits, so a plain hash is
as strong as a slow one and costs nothing per request). Secrets are never stored, logged or
printed again. Scopes: `ingest` (send events), `check` (entitlement checks), `read` (usage
and invoices), `admin` (everything). A key bound to a customer reaches only that customer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

SCOPES = ("ingest", "check", "read", "admin")
PREFIX = "bk"
_PRESENTED = re.compile(rf"{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})")
_COLUMNS = [
    "key_id",
    "name",
    "scope",
    "customer_id",
    "expires",
    "secret_sha256",
    "created_at",
    "revoked_at",
    "rate_limit",
    "changed_at",
]


class KeyRefused(PermissionError):
    """The request's key does not let it in. `status` is the HTTP answer: 401 for a key that
    is missing, unknown, wrong, revoked or expired; 403 for one without the right; 429 for
    one over its rate limit, with the seconds to wait (`retry_after`)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    customer_id: str | None
    expires: date | None
    secret_sha256: str
    created_at: datetime
    revoked_at: datetime | None
    rate_limit: int | None = None  # requests per second; None: no limit

    def listing(self) -> dict:
        """What `billing keys list` shows: everything but the secret's hash."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scope": self.scope,
            "customer_id": self.customer_id,
            "expires": self.expires.isoformat() if self.expires else None,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "rate_limit": self.rate_limit,
        }

    def authorize(self, scope: str, customer_id: str | None = None) -> None:
        """Refuse (403) what this key may not do: another scope, or another customer than
        the one it is bound to (`customer_id`: the customer a request is about, if any)."""
        if self.scope not in ("admin", scope):
            raise KeyRefused(403, f"API key {self.key_id} has scope {self.scope}, not {scope}")
        if self.customer_id is not None and customer_id not in (None, self.customer_id):
            raise KeyRefused(
                403, f"API key {self.key_id} is bound to customer {self.customer_id!r}"
            )


def create_key(
    client: Client,
    database: str,
    scope: str,
    name: str = "",
    customer_id: str | None = None,
    expires: date | None = None,
    rate_limit: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret, the only time the secret exists outside the caller."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id, name, scope, customer_id, expires, _sha256(secret), _now(), None, rate_limit
    )
    _write(client, database, key)
    return key, f"{PREFIX}_{key_id}_{secret}"


def revoke_key(client: Client, database: str, key_id: str) -> ApiKey:
    """Revoke a key (again is a no-op); the key's later requests get 401."""
    key = find_key(client, database, key_id)
    if key is None:
        raise LookupError(f"no API key {key_id!r}; `billing keys list` shows them")
    if key.revoked_at is None:
        key = dataclasses.replace(key, revoked_at=_now())
        _write(client, database, key)
    return key


def list_keys(client: Client, database: str) -> list[ApiKey]:
    return [_key(row) for row in _latest_rows(client, database, "")]


def find_key(client: Client, database: str, key_id: str) -> ApiKey | None:
    rows = _latest_rows(client, database, "WHERE key_id = {key:String}", key=key_id)
    return _key(rows[0]) if rows else None


def authenticate(key: ApiKey | None, presented: str, today: date) -> ApiKey:
    """The key a request presents, if it lets the request in at all (else 401)."""
    match = _PRESENTED.fullmatch(presented or "")
    if key is None or match is None or match.group(1) != key.key_id:
        raise KeyRefused(401, "unknown API key; send `Authorization: Bearer bk_...`")
    if not hmac.compare_digest(_sha256(match.group(2)), key.secret_sha256):
        raise KeyRefused(401, "unknown API key; send `Authorization: Bearer bk_...`")
    if key.revoked_at is not None:
        raise KeyRefused(401, f"API key {key.key_id} was revoked")
    if key.expires is not None and today > key.expires:
        raise KeyRefused(401, f"API key {key.key_id} expired on {key.expires.isoformat()}")
    return key


def key_id_of(presented: str) -> str | None:
    """The key id a presented key names, if it has the shape of one."""
    match = _PRESENTED.fullmatch(presented or "")
    return match.group(1) if match else None


def _now() -> datetime:
    """Now, to the millisecond the table keeps, so a key reads back as it was made."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _write(client: Client, database: str, key: ApiKey) -> None:
    row = [*dataclasses.astuple(key), datetime.now(UTC)]
    client.insert(f"`{database}`.api_keys", [row], column_names=_COLUMNS)


def _latest_rows(client: Client, database: str, where: str, **parameters) -> list[tuple]:
    columns = ", ".join(f"argMax({c}, changed_at)" for c in _COLUMNS[1:-1])
    return client.query(
        f"SELECT key_id, {columns} FROM `{database}`.api_keys {where} "
        f"GROUP BY key_id ORDER BY min(changed_at), key_id",
        parameters=parameters,
    ).result_rows


def _key(row: tuple) -> ApiKey:
    key_id, name, scope, customer, expires, digest, created, revoked, rate_limit = row
    created, revoked = (moment and moment.replace(tzinfo=UTC) for moment in (created, revoked))
    return ApiKey(key_id, name, scope, customer, expires, digest, created, revoked, rate_limit)


def bearer(header: str) -> str:
    """The credential of an `Authorization: Bearer ...` header ('' without one)."""
    match = re.fullmatch(r"Bearer\s+(\S+)", header.strip())
    return match.group(1) if match else ""
