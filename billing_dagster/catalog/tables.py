"""The catalog's tables: every applied version of the catalog, row by row (catalog/store.py
writes them)."""

#: The catalog tables, each with what it holds (they are Dagster assets, written by `billing
#: catalog apply` from YAML, not by a run).
CATALOG_TABLES = {
    "catalog_versions": "One row per applied catalog; the highest version is in force.",
    "catalog_metrics": "Metric definitions (immutable per code).",
    "catalog_plan_versions": "Plan versions (immutable) with their prices as canonical JSON.",
    "catalog_customers": "Customers: tax rates, payment gateways (empty: default), time zones.",
    "catalog_subscriptions": "Subscriptions with the plan version they are pinned to.",
    "catalog_credit_grants": "Prepaid credit grants.",
    "catalog_entitlements": "Features of each subscription: its plan version's, overridden.",
    "catalog_quota_grants": "Units added to a customer's limit of a metered feature.",
}

DDL = """
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
ALTER TABLE {db}.catalog_metrics ADD COLUMN IF NOT EXISTS unit Nullable(String) AFTER group_by
;
ALTER TABLE {db}.catalog_metrics
    ADD COLUMN IF NOT EXISTS percentile Nullable(Decimal(9, 6)) AFTER unit
;
ALTER TABLE {db}.catalog_metrics ADD COLUMN IF NOT EXISTS bucket Nullable(String) AFTER percentile
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
ALTER TABLE {db}.catalog_customers ADD COLUMN IF NOT EXISTS gateway LowCardinality(String)
;
ALTER TABLE {db}.catalog_customers
    ADD COLUMN IF NOT EXISTS timezone LowCardinality(String) DEFAULT 'UTC'
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
CREATE TABLE IF NOT EXISTS {db}.catalog_entitlements (
    catalog_version UInt32,
    subscription_id String,
    customer_id String,
    feature String,
    kind LowCardinality(String),
    metric_code Nullable(String),
    limit_quantity Nullable({quantity}),
    enforcement Nullable(String),
    period Nullable(String),
    enabled Nullable(Bool),
    config_json Nullable(String)
) ENGINE = MergeTree ORDER BY (catalog_version, customer_id, subscription_id, feature)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_quota_grants (
    catalog_version UInt32,
    grant_id String,
    customer_id String,
    feature String,
    units {quantity},
    effective Date,
    expires Nullable(Date),
    priority Int32
) ENGINE = MergeTree ORDER BY (catalog_version, customer_id, feature, grant_id)
;
CREATE TABLE IF NOT EXISTS {db}.catalog_migrations (
    migrated_at DateTime64(3, 'UTC'),
    plan String,
    from_version UInt32,
    to_version UInt32,
    effective Date,
    requested_customers Array(String),
    moved_customers Array(String),
    catalog_version UInt32
) ENGINE = MergeTree ORDER BY migrated_at
"""
