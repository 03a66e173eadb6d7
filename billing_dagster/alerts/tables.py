"""The alert history: one row per transition (triggered, confirmed, resolved) of an
(rule, customer, target, period, threshold), append-only. Written under the home's
`alerts` lock after the outbox event it announces, so no transition goes unannounced.

`alert_evaluations`: what each exact evaluation had seen (the catalog, the hour it ran in,
the loads metered), written after its transitions; the next one in the same hour and
catalog looks only at the customers of later loads."""

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
;
CREATE TABLE IF NOT EXISTS {db}.alert_evaluations (
    window_hour DateTime64(3, 'UTC'),
    catalog_version UInt32,
    metered_loads UInt64,
    evaluated_at DateTime64(6, 'UTC')
) ENGINE = MergeTree ORDER BY (window_hour, evaluated_at)
"""
