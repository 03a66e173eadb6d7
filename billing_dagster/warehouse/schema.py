"""Tables the Python side writes: the versioned catalog and the event store.

dbt owns everything derived from these (models in `dbt_project/`). Creation is idempotent,
so every entry point calls `ensure_schema` before its first statement.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

#: Quantities: 26 integer and 12 fractional digits, exact (CONTRACT.md §3).
QUANTITY = "Decimal(38, 12)"
#: Amounts and prices: 20 fractional digits keep unit prices like 0.000002 exact.
MONEY = "Decimal(38, 20)"

_TABLES = """
CREATE TABLE IF NOT EXISTS {db}.catalog_versions (
    catalog_version UInt32,
    content_sha256 String,
    source_file String,
    document String,
    applied_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY catalog_version
;
CREATE TABLE IF NOT EXISTS {db}.catalog_metrics (
    catalog_version UInt32,
    code String,
    event_name String,
    aggregation LowCardinality(String),
    property Nullable(String),
    filters Map(String, Array(String)),
    group_by Nullable(String),
    definition_sha256 String
) ENGINE = MergeTree ORDER BY (catalog_version, code)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_plan_versions (
    catalog_version UInt32,
    plan String,
    plan_name String,
    version UInt32,
    effective_from Date,
    currency LowCardinality(String),
    content_json String,
    content_sha256 String
) ENGINE = MergeTree ORDER BY (catalog_version, plan, version)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_customers (
    catalog_version UInt32,
    customer_id String,
    name String,
    tax_rate {money}
) ENGINE = MergeTree ORDER BY (catalog_version, customer_id)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_subscriptions (
    catalog_version UInt32,
    subscription_id String,
    customer_id String,
    plan String,
    plan_version UInt32,
    start_date Date,
    end_date Nullable(Date),
    content_json String
) ENGINE = MergeTree ORDER BY (catalog_version, customer_id, start_date)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_credit_grants (
    catalog_version UInt32,
    grant_id String,
    customer_id String,
    amount {money},
    effective Date,
    expires Nullable(Date),
    priority Int32
) ENGINE = MergeTree ORDER BY (catalog_version, customer_id, grant_id)
;
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
    line_no UInt64
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
CREATE TABLE IF NOT EXISTS {db}.dbt_deployments (
    manifest_sha256 String,
    deployed_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY deployed_at
;
CREATE TABLE IF NOT EXISTS {db}.quarantined_events (
    load_seq UInt64,
    file_name String,
    line_no UInt64,
    raw_line String,
    reason String,
    quarantined_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (load_seq, line_no)
"""


def ensure_schema(client: Client, database: str) -> None:
    """Create the database (Atomic, so tables can be exchanged atomically) and its tables."""
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}` ENGINE = Atomic")
    for statement in _TABLES.format(db=f"`{database}`", money=MONEY).split(";"):
        if statement.strip():
            client.command(statement)
