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
    """Every (event, endpoint) pair the outbox owes and that was not delivered since the
    latest replay of it, with those attempts, oldest event first. The warehouse pairs them:
    a round reads the payloads of what is still open, not of the whole outbox."""
    subscribed = endpoints(client, database)
    if not subscribed:
        return []
    by_id = {endpoint.endpoint_id: endpoint for endpoint in subscribed}
    rows = client.query(
        _OPEN_DELIVERIES.format(db=f"`{database}`"),
        parameters={
            "endpoints": [
                (e.endpoint_id, list(e.event_types), e.created_at, rank)
                for rank, e in enumerate(subscribed)
            ]
        },
    ).result_rows
    open_deliveries = []
    for event_id, endpoint_id, payload, tries in rows:
        delivery = Delivery(event_id, by_id[endpoint_id], payload)
        for at, delivered in tries:
            delivery.attempted(as_utc(at), delivered)
        open_deliveries.append(delivery)
    return open_deliveries


#: The open deliveries: pairs of an event and an endpoint subscribed to its type (made
#: before the event, or asked to replay it) without a delivered attempt since the latest
#: replay; with those attempts, oldest first.
_OPEN_DELIVERIES = """
WITH
endpoints AS (
    SELECT e.1 AS endpoint_id, e.2 AS event_types, e.3 AS subscribed_at, e.4 AS rank
    FROM (SELECT arrayJoin({{endpoints:Array(Tuple(String, Array(String),
                                                   DateTime64(3, 'UTC'), UInt32))}}) AS e)
),
events AS (
    SELECT event_id, any(event_type) AS event_type, min(created_at) AS created_at
    FROM {db}.webhook_events GROUP BY event_id
),
replays AS (
    SELECT event_id, endpoint_id, max(requested_at) AS replayed_at
    FROM {db}.webhook_replays GROUP BY event_id, endpoint_id
),
owed AS (
    SELECT events.event_id AS event_id, endpoints.endpoint_id AS endpoint_id,
           events.created_at AS created_at, endpoints.rank AS rank,
           replays.replayed_at AS replayed_at
    FROM events CROSS JOIN endpoints
    LEFT JOIN replays ON replays.event_id = events.event_id
                     AND replays.endpoint_id = endpoints.endpoint_id
    WHERE has(endpoints.event_types, events.event_type)
      AND (replays.event_id != '' OR events.created_at >= endpoints.subscribed_at)
),
tries AS (
    SELECT a.event_id AS event_id, a.endpoint_id AS endpoint_id,
           arraySort(t -> t.1, groupArray((a.attempted_at, a.delivered))) AS tries,
           max(a.delivered) AS delivered
    FROM {db}.webhook_attempts AS a
    JOIN owed ON owed.event_id = a.event_id AND owed.endpoint_id = a.endpoint_id
    WHERE a.attempted_at > owed.replayed_at
    GROUP BY a.event_id, a.endpoint_id
),
open AS (
    SELECT owed.event_id AS event_id, owed.endpoint_id AS endpoint_id,
           owed.created_at AS created_at, owed.rank AS rank, tries.tries AS tries
    FROM owed
    LEFT JOIN tries ON tries.event_id = owed.event_id AND tries.endpoint_id = owed.endpoint_id
    WHERE NOT tries.delivered
)
SELECT open.event_id, open.endpoint_id, payloads.payload, open.tries
FROM open
JOIN (
    SELECT event_id, any(payload) AS payload FROM {db}.webhook_events
    WHERE event_id IN (SELECT event_id FROM open) GROUP BY event_id
) AS payloads ON payloads.event_id = open.event_id
ORDER BY open.created_at, open.event_id, open.rank
"""


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
