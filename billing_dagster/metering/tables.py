"""The metering ledger and the record of deployed dbt views (the daily usage table itself
is a dbt model)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.metering_runs (
    min_date Date,
    max_date Date,
    max_load_seq UInt64,
    metrics_sha String,
    metered_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY metered_at
;
-- Stores made before metering runs recorded the metrics they metered with.
ALTER TABLE {db}.metering_runs ADD COLUMN IF NOT EXISTS metrics_sha String AFTER max_load_seq
;
CREATE TABLE IF NOT EXISTS {db}.dbt_deployments (
    manifest_sha256 String,
    deployed_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY deployed_at
"""
