"""The alert history: one row per transition (triggered, confirmed, resolved) of an
(rule, customer, target, period, threshold), append-only. Written under the home's
`alerts` lock after the outbox event it announces, so no transition goes unannounced."""

DDL = """
CREATE TABLE IF NOT EXISTS {db}.alert_transitions (
    event_id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    rule_id String,
    customer_id String,
    target String,
    period_start DateTime64(3, 'UTC'),
    period_end DateTime64(3, 'UTC'),
    threshold String,
    figure {quantity},
    limit_quantity Nullable({quantity}),
    spending_cap Bool,
    recorded_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (customer_id, rule_id, period_start, threshold, recorded_at)
"""
