"""Partner statements: the lines of each statement run, and the row that makes a run the
statement of its period (partners/store.py writes them)."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.partner_statement_lines (
    statement_run_id String,
    period String,
    partner_id String,
    customer_id String,
    document_id String,
    document_kind LowCardinality(String),
    for_period String,
    currency LowCardinality(String),
    basis {invoice_money},
    share {money},
    amount {invoice_money}
) ENGINE = MergeTree ORDER BY (period, statement_run_id, partner_id, customer_id, document_id)
;
CREATE TABLE IF NOT EXISTS {db}.partner_statements (
    period String,
    statement_run_id String,
    catalog_version UInt32,
    made_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (period, made_at)
"""
