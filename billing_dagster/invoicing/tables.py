"""Billing runs with their invoices, lines and credit notes, the bases of adjustments,
finalizations with their frozen documents, interim invoices, voids and refunds
(invoicing/store.py, interim.py, voids.py and refunds.py write them)."""

DDL = """
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
CREATE TABLE IF NOT EXISTS {db}.interim_invoices (
    period String,
    customer_id String,
    invoice_id String,
    number UInt32,
    currency LowCardinality(String),
    total {invoice_money},
    catalog_version UInt32,
    document String,
    issued_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (period, customer_id, number)
;
CREATE TABLE IF NOT EXISTS {db}.invoice_voids (
    invoice_id String,
    period String,
    reason String,
    voided_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY invoice_id
;
CREATE TABLE IF NOT EXISTS {db}.refunds (
    refund_id String,
    invoice_id String,
    customer_id String,
    period String,
    currency LowCardinality(String),
    amount {invoice_money},
    refund_to LowCardinality(String),
    reason String,
    document String,
    issued_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (period, invoice_id, refund_id)
"""
