"""The outbox: every event a webhook may carry, written once with a stable id before
anything announces it, and read back deduplicated by id. The payload is fixed when the
event is written, so every delivery attempt signs and sends the same bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

EVENT_TYPES = (
    "alert.triggered",
    "alert.resolved",
    "entitlement.limit_reached",
    "invoice.finalized",
    "invoice.synced",
    "credit_note.issued",
    "data_quality.failed",
)


def stable_event_id(*parts: str) -> str:
    """`evt_` and a digest of what the event is about: whoever writes the same event again
    (a re-run, a second process, a restart) writes the same id, which the outbox holds once."""
    return "evt_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str
    created_at: datetime
    data: dict

    @property
    def payload(self) -> str:
        return json.dumps(
            {
                "id": self.event_id,
                "type": self.event_type,
                "created": self.created_at.isoformat(),
                "data": self.data,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def publish(client: Client, database: str, events: list[OutboxEvent]) -> int:
    """Write the events the outbox does not hold yet; how many were new."""
    if not events:
        return 0
    held = {
        row[0]
        for row in client.query(
            f"SELECT event_id FROM `{database}`.webhook_events "
            f"WHERE event_id IN {{ids:Array(String)}}",
            parameters={"ids": [event.event_id for event in events]},
        ).result_rows
    }
    fresh = {e.event_id: e for e in events if e.event_id not in held}
    if fresh:
        client.insert(
            f"`{database}`.webhook_events",
            [[e.event_id, e.event_type, e.created_at, e.payload] for e in fresh.values()],
            column_names=["event_id", "event_type", "created_at", "payload"],
        )
    return len(fresh)


def event_payload(client: Client, database: str, event_id: str) -> tuple[str, str] | None:
    """(type, payload) of an event of the outbox, or None."""
    rows = client.query(
        f"SELECT event_type, payload FROM `{database}`.webhook_events "
        f"WHERE event_id = {{id:String}} ORDER BY created_at LIMIT 1",
        parameters={"id": event_id},
    ).result_rows
    return rows[0] if rows else None
