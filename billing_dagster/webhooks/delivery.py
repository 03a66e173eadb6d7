"""Delivering the outbox: each event to each endpoint subscribed to its type (made before
the event, or asked to replay it), signed, until the endpoint answers 2xx.

A failed attempt (an error status, a timeout, a dropped connection) is retried after
10 s x 2^(failures - 1), at most an hour, times a jitter in [0.5, 1) fixed by the event,
the endpoint and the attempt, for 24 hours from the first attempt; then the delivery has
failed, until `billing webhooks replay`. Every attempt is recorded. A process killed
between a post and its record posts again: the receiver dedups on the event id, as
docs/webhooks.md asks. One deliverer at a time (the home's `webhooks` lock): `billing
serve` and the Dagster job never post the same attempt twice."""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.entitlements.exact import as_utc
from billing_dagster.locks import WEBHOOKS, home_lock_if_free
from billing_dagster.webhooks.endpoints import Endpoint, endpoints, signing_secret
from billing_dagster.webhooks.signing import HEADER, signature

BACKOFF_BASE_S = 10
BACKOFF_MAX_S = 3600
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT_S = 10.0


ATTEMPT_COLUMNS = ["event_id", "endpoint_id", "attempted_at", "delivered", "status_code", "error"]


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str

    @property
    def row(self) -> list:
        return [self.delivered, self.status_code, self.error]


Post = Callable[[str, bytes, dict[str, str]], Outcome]


@dataclass
class Delivery:
    """One event for one endpoint, with its attempts since the latest replay."""

    event_id: str
    endpoint: Endpoint
    payload: str
    failures: int = 0
    first_attempt: datetime | None = None
    last_attempt: datetime | None = None
    delivered: bool = False

    def attempted(self, at: datetime, delivered: bool) -> None:
        """Count an attempt made at `at`."""
        self.delivered |= delivered
        self.failures += 0 if delivered else 1
        self.first_attempt = self.first_attempt or at
        self.last_attempt = at

    @property
    def retry_at(self) -> datetime | None:
        """When the next attempt falls due after a failure; None before the first."""
        if self.last_attempt is None:
            return None
        return self.last_attempt + timedelta(seconds=self.backoff())

    def due(self, now: datetime) -> bool:
        if self.delivered or self.given_up(now):
            return False
        return self.retry_at is None or now >= self.retry_at

    def given_up(self, now: datetime) -> bool:
        return self.first_attempt is not None and now - self.first_attempt >= GIVE_UP_AFTER

    def backoff(self) -> float:
        """Seconds to wait after the latest failed attempt."""
        seed = f"{self.event_id}/{self.endpoint.endpoint_id}/{self.failures}".encode()
        jitter = 0.5 + int.from_bytes(hashlib.sha256(seed).digest()[:4]) / 2**33
        return min(BACKOFF_BASE_S * 2 ** (self.failures - 1), BACKOFF_MAX_S) * jitter


@dataclass
class Round:
    delivered: int = 0
    failed: int = 0
    skipped: bool = False  # another deliverer holds the lock
    #: the deliveries as the round left them
    deliveries: list[Delivery] = field(default_factory=list)

    def next_due(self, now: datetime) -> datetime | None:
        """When the next delivery falls due (now for one never tried); None if none will."""
        owed = [d for d in self.deliveries if not d.delivered and not d.given_up(now)]
        return min((d.retry_at or now for d in owed), default=None)


def deliver_due(
    client: Client,
    database: str,
    home: Path,
    now: datetime | None = None,
    post: Post | None = None,
) -> Round:
    """Post every delivery that is due, once; `now` and `post` are the clock and the
    transport (tests simulate hours of an endpoint being down)."""
    result = Round()
    with home_lock_if_free(home, WEBHOOKS) as held:
        if not held:
            result.skipped = True
            return result
        now = now or datetime.now(UTC)
        result.deliveries = deliveries(client, database)
        for delivery in result.deliveries:
            if not delivery.due(now):
                continue
            body = delivery.payload.encode()
            secret = signing_secret(home, delivery.endpoint.endpoint_id)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "billing-webhooks/1",
                "Billing-Event-Id": delivery.event_id,
                HEADER: signature(secret, int(now.timestamp()), body),
            }
            outcome = (post or post_json)(delivery.endpoint.url, body, headers)
            client.insert(
                f"`{database}`.webhook_attempts",
                [[delivery.event_id, delivery.endpoint.endpoint_id, now, *outcome.row]],
                column_names=ATTEMPT_COLUMNS,
            )
            delivery.attempted(now, outcome.delivered)
            if outcome.delivered:
                result.delivered += 1
            else:
                result.failed += 1
    return result


def deliveries(client: Client, database: str) -> list[Delivery]:
    """Every (event, endpoint) pair the outbox owes, with its attempts since the latest
    replay of it, oldest event first."""
    db = f"`{database}`"
    subscribed = endpoints(client, database)
    if not subscribed:
        return []
    replays = {
        (event_id, endpoint_id): as_utc(at)
        for event_id, endpoint_id, at in client.query(
            f"SELECT event_id, endpoint_id, max(requested_at) FROM {db}.webhook_replays "
            f"GROUP BY event_id, endpoint_id"
        ).result_rows
    }
    events = client.query(
        f"SELECT event_id, any(event_type), min(created_at), any(payload) "
        f"FROM {db}.webhook_events GROUP BY event_id ORDER BY min(created_at), event_id"
    ).result_rows
    attempts = client.query(
        f"SELECT event_id, endpoint_id, attempted_at, delivered FROM {db}.webhook_attempts "
        f"ORDER BY attempted_at"
    ).result_rows
    owed: dict[tuple[str, str], Delivery] = {}
    for event_id, event_type, created_at, payload in events:
        for endpoint in subscribed:
            replayed = (event_id, endpoint.endpoint_id) in replays
            if event_type in endpoint.event_types and (
                replayed or as_utc(created_at) >= endpoint.created_at
            ):
                owed[(event_id, endpoint.endpoint_id)] = Delivery(event_id, endpoint, payload)
    for event_id, endpoint_id, at, delivered in attempts:
        delivery = owed.get((event_id, endpoint_id))
        at = as_utc(at)
        replayed_at = replays.get((event_id, endpoint_id))
        if delivery is None or (replayed_at and at <= replayed_at):
            continue
        delivery.attempted(at, delivered)
    return list(owed.values())


def request_replay(client: Client, database: str, event_id: str) -> list[str]:
    """Deliver the event again to every endpoint subscribed to its type; their ids."""
    rows = client.query(
        f"SELECT event_type FROM `{database}`.webhook_events WHERE event_id = {{id:String}} "
        f"LIMIT 1",
        parameters={"id": event_id},
    ).result_rows
    if not rows:
        raise LookupError(
            f"no webhook event {event_id!r}; event ids are in the `id` of the payloads endpoints "
            f"received, and in `billing alerts --format json` for alerts"
        )
    targets = [e.endpoint_id for e in endpoints(client, database) if rows[0][0] in e.event_types]
    now = datetime.now(UTC)
    if targets:
        client.insert(
            f"`{database}`.webhook_replays",
            [[event_id, endpoint_id, now] for endpoint_id in targets],
            column_names=["event_id", "endpoint_id", "requested_at"],
        )
    return targets


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return Outcome(200 <= response.status < 300, response.status, "")
    except urllib.error.HTTPError as error:
        return Outcome(False, error.code, f"HTTP {error.code}")
    except (OSError, http.client.HTTPException) as error:
        return Outcome(False, None, str(error) or type(error).__name__)


def delivery_status(client: Client, database: str, now: datetime) -> list[dict]:
    """Deliveries not done, for `billing status`: pending (never tried or retrying) and
    failed (24 hours of failures; `billing webhooks replay` sends them again)."""
    rows = []
    for d in deliveries(client, database):
        if d.delivered:
            continue
        state = "failed" if d.given_up(now) else "retrying" if d.failures else "pending"
        next_at = d.retry_at.isoformat() if state == "retrying" else None
        rows.append(
            {
                "event_id": d.event_id,
                "endpoint_id": d.endpoint.endpoint_id,
                "url": d.endpoint.url,
                "state": state,
                "attempts": d.failures,
                "next_attempt": next_at,
            }
        )
    return rows
