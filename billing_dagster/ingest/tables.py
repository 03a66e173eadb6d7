"""The event store: the load ledger, the first accepted copy of every event, later copies,
and quarantined lines (ingest/loader.py writes them)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.event_loads (
    load_seq UInt64,
    file_sha256 String,
    file_name String,
    landing_path String,
    landing_date Date,
    lines UInt64,
    accepted UInt64,
    duplicates UInt64,
    conflicts UInt64,
    quarantined UInt64,
    event_dates Array(Date),
    loaded_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY load_seq
;
CREATE TABLE IF NOT EXISTS {db}.raw_events (
    event_date Date,
    customer_id String,
    event_id String,
    event_name LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    properties Map(String, String),
    source Nullable(String),
    replaces Nullable(String),
    void Bool,
    key_hash FixedString(16),
    content_hash FixedString(16),
    load_seq UInt64,
    line_no UInt64,
    corrects Nullable(String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, customer_id, event_name, timestamp, event_id)
;
CREATE TABLE IF NOT EXISTS {db}.event_duplicates (
    customer_id String,
    event_id String,
    timestamp Nullable(DateTime64(3, 'UTC')),
    is_conflict Bool,
    load_seq UInt64,
    line_no UInt64,
    first_load_seq UInt64,
    first_line_no UInt64
) ENGINE = MergeTree ORDER BY (load_seq, line_no)
;
CREATE TABLE IF NOT EXISTS {db}.quarantined_events (
    load_seq UInt64,
    file_name String,
    line_no UInt64,
    raw_line String,
    reason String,
    quarantined_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (load_seq, line_no)
;
-- Stores made before corrections recorded the original they stand for.
ALTER TABLE {db}.raw_events ADD COLUMN IF NOT EXISTS corrects Nullable(String)
"""
