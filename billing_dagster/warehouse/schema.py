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
#: Invoice amounts, rounded to a currency's minor unit (at most 4 decimals).
INVOICE_MONEY = "Decimal(38, 4)"

_TABLES = """
CREATE TABLE IF NOT EXISTS {db}.catalog_versions (
    catalog_version UInt32,
    content_sha256 String,
    source_file String,
    document String,
    catalog_json String,
    applied_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY catalog_version
;
CREATE TABLE IF NOT EXISTS {db}.catalog_charge_prices (
    catalog_version UInt32,
    subscription_id String,
    metric String,
    charge_order UInt16,
    is_group_price Bool,
    group_value String,
    model LowCardinality(String)
) ENGINE = MergeTree ORDER BY (catalog_version, subscription_id, metric, group_value)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_price_tiers (
    catalog_version UInt32,
    subscription_id String,
    metric String,
    is_group_price Bool,
    group_value String,
    tier UInt16,
    lower_bound {quantity},
    upper_bound Nullable({quantity}),
    unit_price {money},
    flat_fee {money},
    package_size Nullable({quantity}),
    free_units {quantity}
) ENGINE = MergeTree ORDER BY (catalog_version, subscription_id, metric, group_value, tier)
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
;
CREATE TABLE IF NOT EXISTS {db}.billing_runs (
    billing_run_id String,
    period String,
    catalog_version UInt32,
    invoices UInt32,
    created_at DateTime64(3, 'UTC'),
    max_load_seq UInt64
) ENGINE = MergeTree ORDER BY (period, created_at)
;
ALTER TABLE {db}.billing_runs ADD COLUMN IF NOT EXISTS max_load_seq UInt64
;
CREATE TABLE IF NOT EXISTS {db}.credit_notes (
    billing_run_id String,
    period String,
    credit_note_id String,
    customer_id String,
    adjusts_period String,
    currency LowCardinality(String),
    total {invoice_money},
    document String
) ENGINE = MergeTree ORDER BY (period, billing_run_id, customer_id, adjusts_period)
;
CREATE TABLE IF NOT EXISTS {db}.adjustment_bases (
    billing_run_id String,
    period String,
    customer_id String,
    adjusts_period String,
    corrected_document String
) ENGINE = MergeTree ORDER BY (adjusts_period, customer_id, period, billing_run_id)
;
CREATE TABLE IF NOT EXISTS {db}.invoice_finalizations (
    period String,
    billing_run_id String,
    max_load_seq UInt64,
    finalized_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY period
;
CREATE TABLE IF NOT EXISTS {db}.finalized_documents (
    period String,
    billing_run_id String,
    document_kind LowCardinality(String),
    document_id String,
    customer_id String,
    currency LowCardinality(String),
    total {invoice_money},
    document String
) ENGINE = MergeTree ORDER BY (period, billing_run_id, document_kind, customer_id)
;
CREATE TABLE IF NOT EXISTS {db}.invoices (
    billing_run_id String,
    period String,
    invoice_id String,
    customer_id String,
    currency LowCardinality(String),
    status LowCardinality(String),
    charges {invoice_money},
    subtotal {invoice_money},
    discount {invoice_money},
    tax {invoice_money},
    credits_applied {invoice_money},
    total {invoice_money},
    catalog_version UInt32,
    document String
) ENGINE = MergeTree ORDER BY (period, billing_run_id, customer_id)
;
CREATE TABLE IF NOT EXISTS {db}.invoice_lines (
    billing_run_id String,
    period String,
    invoice_id String,
    line_no UInt16,
    kind LowCardinality(String),
    code Nullable(String),
    group_value Nullable(String),
    plan Nullable(String),
    plan_version Nullable(UInt32),
    subscription_id Nullable(String),
    quantity Nullable({quantity}),
    amount {invoice_money}
) ENGINE = MergeTree ORDER BY (period, billing_run_id, invoice_id, line_no)
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
CREATE TABLE IF NOT EXISTS {db}.invoice_voids (
    invoice_id String,
    period String,
    reason String,
    voided_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY invoice_id
;
CREATE TABLE IF NOT EXISTS {db}.gateway_customers (
    gateway LowCardinality(String),
    customer_id String,
    gateway_customer_id String,
    recorded_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (gateway, customer_id, recorded_at)
;
CREATE TABLE IF NOT EXISTS {db}.gateway_sync_documents (
    gateway LowCardinality(String),
    document_kind LowCardinality(String),
    document_id String,
    period String,
    customer_id String,
    gateway_document_id String,
    state LowCardinality(String),
    currency LowCardinality(String),
    total {invoice_money},
    gateway_total Nullable({invoice_money}),
    message String,
    recorded_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (gateway, document_id, recorded_at)
;
CREATE TABLE IF NOT EXISTS {db}.gateway_sync_lines (
    gateway LowCardinality(String),
    document_id String,
    line_no UInt16,
    kind LowCardinality(String),
    gateway_line_id String,
    amount {invoice_money},
    recorded_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (gateway, document_id, line_no, recorded_at)
;
CREATE TABLE IF NOT EXISTS {db}.invoice_statuses (
    gateway LowCardinality(String),
    document_id String,
    period String,
    gateway_document_id String,
    status LowCardinality(String),
    fetched_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (gateway, document_id, fetched_at)
;
-- Stores made before corrections recorded the original they stand for.
ALTER TABLE {db}.raw_events ADD COLUMN IF NOT EXISTS corrects Nullable(String)
"""


#: (server, database) already ensured by this process: a sensor ticking every 30 s, or a
#: command opening several clients, creates the tables once, not 27 statements each time.
_ENSURED: set[tuple[str, str]] = set()


def ensure_schema(client: Client, database: str) -> None:
    """Create the database (Atomic, so tables can be exchanged atomically) and its tables,
    once per process and warehouse."""
    key = (client.url, database)
    if key in _ENSURED:
        return
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}` ENGINE = Atomic")
    for statement in _TABLES.format(
        db=f"`{database}`", money=MONEY, quantity=QUANTITY, invoice_money=INVOICE_MONEY
    ).split(";"):
        if statement.strip():
            client.command(statement)
    _ENSURED.add(key)
