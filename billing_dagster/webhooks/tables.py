"""Webhooks: endpoints (append-only, the latest row of an endpoint in force; its signing
secret is a file in the billing home, owner-only), the outbox of events (one row per event
id; a second write of the same id is ignored on reading), every delivery attempt, and
replay requests (an event is delivered again after its latest one)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.webhook_endpoints (
    endpoint_id String,
    url String,
    event_types Array(String),
    created_at DateTime64(3, 'UTC'),
    removed_at Nullable(DateTime64(3, 'UTC')),
    changed_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (endpoint_id, changed_at)
;
CREATE TABLE IF NOT EXISTS {db}.webhook_events (
    event_id String,
    event_type LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    payload String
) ENGINE = MergeTree ORDER BY (created_at, event_id)
;
CREATE TABLE IF NOT EXISTS {db}.webhook_attempts (
    event_id String,
    endpoint_id String,
    attempted_at DateTime64(6, 'UTC'),
    delivered Bool,
    status_code Nullable(UInt16),
    error String
) ENGINE = MergeTree ORDER BY (endpoint_id, event_id, attempted_at)
;
CREATE TABLE IF NOT EXISTS {db}.webhook_replays (
    event_id String,
    endpoint_id String,
    requested_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (endpoint_id, event_id, requested_at)
"""
