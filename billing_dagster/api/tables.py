"""API keys: one row per change of a key (created, revoked), append-only; the latest row of
a key is in force. Only a SHA-256 of the secret is stored."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.api_keys (
    key_id String,
    name String,
    scope LowCardinality(String),
    customer_id Nullable(String),
    expires Nullable(Date),
    secret_sha256 String,
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    rate_limit Nullable(UInt32),
    changed_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (key_id, changed_at)
;
-- Stores made before keys had rate limits.
ALTER TABLE {db}.api_keys ADD COLUMN IF NOT EXISTS rate_limit Nullable(UInt32) AFTER revoked_at
"""
