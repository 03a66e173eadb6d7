"""Disputes as observed on the gateways: one row per state change (disputes/store.py)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.disputes (
    gateway LowCardinality(String),
    dispute_id String,
    invoice_id String,
    period String,
    customer_id String,
    gateway_invoice_id String,
    amount {invoice_money},
    currency LowCardinality(String),
    reason String,
    status LowCardinality(String),
    gateway_status LowCardinality(String),
    opened_at DateTime64(3, 'UTC'),
    observed_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (gateway, dispute_id, observed_at)
"""
