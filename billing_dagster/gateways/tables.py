"""The gateway sync ledger (customers and documents pushed, with their lines) and the payment
statuses pulled back (gateways/ledger.py and status.py write them)."""

DDL = """
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
"""
