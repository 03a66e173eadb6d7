"""Portal sessions: one row per link handed out, append-only. The token's secret is kept
only as its SHA-256."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.portal_sessions (
    session_id String,
    customer_id String,
    secret_sha256 String,
    created_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    created_by String
) ENGINE = MergeTree ORDER BY session_id
"""
