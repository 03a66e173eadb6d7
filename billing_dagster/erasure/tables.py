"""The erasure audit: one row per `billing erase` run, never changed (erasure/erase.py)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.erasures (
    erasure_id String,
    customer_id String,
    reason String,
    pii_properties Array(String),
    events UInt64,
    quarantined_lines UInt64,
    landing_files UInt64,
    catalog_versions UInt64,
    gateways String,
    run_id String,
    erased_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (customer_id, erased_at)
"""
