"""The watches whose alerts an exact evaluation would change, found by the warehouse: after
a metering run, 10,000 customers × 3 thresholds cost one query, and Python decides only
for what changes (none in a steady state).

A watch is one rule on one figure of one customer in the window current now:
- a feature: its exact usage in the feature's window (`fct_entitlement_usage`), and its
  limit with the quota grants of that window, as `billing entitlements` answers;
- a metric: its quantity in the billing period (`fct_subscription_usage`), summed over
  subscriptions and groups, as `billing usage` prints it;
- an amount: the usage charges rated so far in the billing period (`fct_rated_usage`),
  or that amount extended to the whole period at the pace of the days gone (`projected`).
A watch with open alerts in a window still current that has no figure any more (the
subscription ended, the feature left the plan) counts 0 in the window it fired in.

The labels of a rule form one sequence (its thresholds, then each recurring step) whose
levels rise, so the labels a figure reached are a prefix of it (`thresholds.reached`). A
watch needs a decision exactly when
- the first label of the sequence that exact usage has not confirmed is reached (a
  trigger or a confirmation is due), or
- a label confirmed and not resolved is no longer reached, or is no longer in the sequence
  (a resolution is due).
The decision itself stays `transitions.exact_transitions`, on these watches only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.thresholds import MAX_RECURRING
from billing_dagster.alerts.transitions import AlertKey, AlertState, Figure, Watch
from billing_dagster.catalog.model import AlertRule, QuotaGrant, Threshold
from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.entitlements.answers import granted
from billing_dagster.entitlements.exact import as_utc
from billing_dagster.entitlements.windows import window
from billing_dagster.metering.dbt_project import deployed

#: The mart each kind of rule reads (a view: reading it computes it, so only when needed).
_MARTS = {
    "feature": "fct_entitlement_usage",
    "metric": "fct_subscription_usage",
    "amount": "fct_rated_usage",
}


def candidates(
    client: Client,
    database: str,
    rules: dict[str, AlertRule],
    grants: tuple[QuotaGrant, ...],
    now: datetime,
    since: int | None = None,
) -> tuple[dict[Watch, Figure], dict[AlertKey, AlertState]]:
    """The watches needing a decision, with their figures and their history: of every
    customer, or of the customers of events loaded after load `since` (and of the events
    those corrected)."""
    db = f"`{database}`"
    windows = {period: window(period, now) for period in ("billing_period", "day", "hour")}
    month_start, month_end = windows["billing_period"]
    marts = deployed(client, database, sorted({_MARTS[rule.target] for rule in rules.values()}))
    labels = client.query(
        f"SELECT DISTINCT rule_id, threshold FROM {db}.alert_transitions "
        f"WHERE rule_id IN {{rules:Array(String)}}",
        parameters={"rules": list(rules)},
    ).result_rows
    parameters = {
        "now": now,
        "since": since or 0,
        "today": now.date(),
        "period": now.strftime("%Y-%m"),
        "days_total": (month_end - month_start).days,
        "days_gone": (now.date() - month_start.date()).days + 1,
        "rules": [_rule_row(rule) for rule in rules.values()],
        "labels": [(rule, label, position(rules[rule], label)) for rule, label in labels],
        "grants": _grant_rows(grants, [start for start, _ in windows.values()]),
        **{f"{p}_start": start for p, (start, _) in windows.items()},
        **{f"{p}_end": end for p, (_, end) in windows.items()},
    }
    rows = client.query(_query(db, marts, since is not None), parameters=parameters).result_rows
    figures: dict[Watch, Figure] = {}
    history: dict[AlertKey, AlertState] = {}
    for rule_id, customer, target, start, end, value, days, limit, states in rows:
        watch = Watch(rule_id, customer, target, as_utc(start))
        figures[watch] = Figure(value if days == 1 else value / days, limit, as_utc(end))
        for label, *state in states:
            history[AlertKey(watch, label)] = AlertState(*map(bool, state))
    return figures, history


def position(rule: AlertRule, label: str) -> int:
    """Where `label` stands in the rule's sequence of labels (from 1), or 0 when it is not
    one of them (the rule was changed since it fired)."""
    one_time = [threshold.label for threshold in rule.thresholds]
    if label in one_time:
        return one_time.index(label) + 1
    last, every = rule.thresholds[-1], rule.every
    if every is None or label.endswith("%") != last.percent:
        return 0
    multiple = (Decimal(label.rstrip("%")) - last.value) / every.value
    if multiple != multiple.to_integral_value() or not 1 <= multiple <= MAX_RECURRING:
        return 0
    further = Threshold(last.value + int(multiple) * every.value, last.percent)
    return len(one_time) + int(multiple) if further.label == label else 0


def _rule_row(rule: AlertRule) -> tuple:
    return (
        rule.id,
        rule.customer,
        rule.target,
        rule.code,
        int(rule.thresholds[0].percent),
        [str(threshold.value) for threshold in rule.thresholds],
        str(rule.every.value) if rule.every else "",
    )


def _grant_rows(grants: tuple[QuotaGrant, ...], starts: list[datetime]) -> list[tuple]:
    """The quota grants each current window's limit adds (`answers.granted`'s rule)."""
    return [
        (grant.customer, grant.feature, start, str(grant.units))
        for start in set(starts)
        for grant in granted(list(grants), start)
    ]


def _reached(p: str) -> str:
    """SQL: has the watch's figure (`num / den`) reached the label at position `p` of its
    rule's sequence? (`thresholds.reached`, for one label; never NULL.)"""
    beyond = f"(toInt64({p}) - length(levels))"
    level = f"if({beyond} <= 0, levels[{p}], levels[-1] + {beyond} * every)"
    return f"""ifNull(
        num > 0
        AND ({beyond} <= 0 OR (every IS NOT NULL AND {beyond} <= {MAX_RECURRING}
             AND (NOT percent OR (limit_quantity IS NOT NULL AND limit_quantity != 0))))
        AND if(percent,
               limit_quantity IS NOT NULL
               AND num * 100 >= toDecimal256(limit_quantity, 12) * {level} * den,
               num >= {level} * den), 0)"""


def _query(db: str, deployed: set[str], incremental: bool) -> str:
    def mart(name: str, columns: str, sql: str) -> str:
        """A mart's rows, or none of the same shape when no rule reads it or before dbt
        first deployed it."""
        return sql if name in deployed else f"SELECT {columns} WHERE 0"

    in_force = IN_FORCE.format(db=db)
    window_of = (
        "multiIf(period = 'hour', {{hour_{0}:DateTime64(3, 'UTC')}}, "
        "period = 'day', {{day_{0}:DateTime64(3, 'UTC')}}, "
        "{{billing_period_{0}:DateTime64(3, 'UTC')}})"
    )
    month = "{billing_period_start:DateTime64(3, 'UTC')}"
    month_end = "{billing_period_end:DateTime64(3, 'UTC')}"
    usage = mart(
        "fct_entitlement_usage",
        "'' AS customer_id, '' AS feature, now64(3, 'UTC') AS window_start, "
        "toDecimal128(0, 12) AS quantity",
        f"SELECT customer_id, feature, window_start, any(quantity) AS quantity "
        f"FROM {db}.fct_entitlement_usage "
        f"WHERE subscription_id IN (SELECT subscription_id FROM active) AND ("
        f"(period = 'billing_period' AND window_start = {month}) OR "
        f"(period = 'day' AND window_start = {{day_start:DateTime64(3, 'UTC')}}) OR "
        f"(period = 'hour' AND window_start = {{hour_start:DateTime64(3, 'UTC')}})) "
        f"GROUP BY customer_id, feature, window_start",
    )
    metric_sums = mart(
        "fct_subscription_usage",
        "'' AS customer_id, '' AS metric_code, toDecimal128(0, 12) AS quantity",
        f"SELECT customer_id, metric_code, sum(quantity) AS quantity "
        f"FROM {db}.fct_subscription_usage WHERE period = {{period:String}} "
        f"GROUP BY customer_id, metric_code",
    )
    amounts = mart(
        "fct_rated_usage",
        "'' AS customer_id, toDecimal256(0, 32) AS amount",
        f"SELECT customer_id, sum(amount) AS amount FROM {db}.fct_rated_usage "
        f"WHERE period = {{period:String}} GROUP BY customer_id",
    )
    first_unconfirmed = (
        "arrayMin(arrayFilter(p -> NOT has(confirmed_positions, p), "
        "arrayPushFront(arrayMap(p -> p + 1, confirmed_positions), 1)))"
    )
    scope = "AND customer_id IN (SELECT customer_id FROM changed)" if incremental else ""
    return f"""
WITH
changed_days AS (
    SELECT DISTINCT arrayJoin(event_dates) FROM {db}.event_loads
    WHERE load_seq > {{since:UInt64}}
),
later AS (
    SELECT customer_id, replaces FROM {db}.raw_events
    WHERE event_date IN changed_days AND load_seq > {{since:UInt64}}
),
changed AS (
    SELECT customer_id FROM later
    UNION DISTINCT
    SELECT customer_id FROM {db}.raw_events
    WHERE event_date IN changed_days
      AND event_id IN (SELECT assumeNotNull(replaces) FROM later WHERE replaces IS NOT NULL)
),
active AS (
    SELECT subscription_id, customer_id FROM {db}.catalog_subscriptions
    WHERE {in_force} AND start_date <= {{today:Date}}
      AND (end_date IS NULL OR end_date > {{today:Date}}) {scope}
),
rules AS (
    SELECT r.1 AS rule_id, r.2 AS rule_customer, r.3 AS kind, r.4 AS code, r.5 = 1 AS percent,
           arrayMap(x -> toDecimal256(x, 20), r.6) AS levels,
           if(r.7 = '', NULL, toDecimal256(r.7, 20)) AS every
    FROM (SELECT arrayJoin({{rules:Array(Tuple(String, String, String, String, UInt8,
                                               Array(String), String))}}) AS r)
),
entitlements AS (
    SELECT customer_id, feature, kind, limit_quantity,
           {window_of.format("start")} AS period_start, {window_of.format("end")} AS period_end
    FROM {db}.catalog_entitlements
    WHERE {in_force} AND subscription_id IN (SELECT subscription_id FROM active)
),
grants AS (
    SELECT g.1 AS customer_id, g.2 AS feature, g.3 AS window_start,
           sum(toDecimal128(g.4, 12)) AS units
    FROM (SELECT arrayJoin({{grants:Array(Tuple(String, String, DateTime64(3, 'UTC'),
                                                String))}}) AS g)
    GROUP BY customer_id, feature, window_start
),
usage AS ({usage}),
metric_sums AS ({metric_sums}),
amounts AS ({amounts}),
customers AS (SELECT DISTINCT customer_id FROM active),
watches AS (
    SELECT rules.rule_id AS rule_id, e.customer_id AS customer_id, rules.code AS target,
           e.period_start AS period_start, e.period_end AS period_end,
           toDecimal256(u.quantity, 32) AS num, toUInt32(1) AS den, 1 AS watched,
           if(e.limit_quantity IS NULL, NULL,
              e.limit_quantity + g.units) AS limit_quantity
    FROM rules
    JOIN entitlements AS e ON e.feature = rules.code
    LEFT JOIN usage AS u ON u.customer_id = e.customer_id AND u.feature = e.feature
                         AND u.window_start = e.period_start
    LEFT JOIN grants AS g ON g.customer_id = e.customer_id AND g.feature = e.feature
                          AND g.window_start = e.period_start
    WHERE rules.kind = 'feature' AND e.kind = 'metered'
      AND (rules.rule_customer = '*' OR rules.rule_customer = e.customer_id)
    UNION ALL
    SELECT rules.rule_id, c.customer_id, rules.code, {month}, {month_end},
           if(rules.kind = 'metric', toDecimal256(m.quantity, 32),
              if(rules.code = 'projected', a.amount * {{days_total:UInt32}}, a.amount)),
           if(rules.code = 'projected', {{days_gone:UInt32}}, toUInt32(1)), 1,
           CAST(NULL AS Nullable(Decimal(38, 12)))
    FROM rules CROSS JOIN customers AS c
    LEFT JOIN metric_sums AS m ON m.customer_id = c.customer_id AND m.metric_code = rules.code
    LEFT JOIN amounts AS a ON a.customer_id = c.customer_id
    WHERE rules.kind != 'feature'
      AND (rules.rule_customer = '*' OR rules.rule_customer = c.customer_id)
),
history AS (
    SELECT rule_id, customer_id, target, period_start, any(window_end) AS period_end,
           groupArray((threshold, triggered, confirmed, resolved)) AS states,
           groupArrayIf(position, confirmed AND position > 0) AS confirmed_positions,
           groupArrayIf(position, confirmed AND NOT resolved) AS open_positions
    FROM (
        SELECT rule_id, customer_id, target, period_start, any(period_end) AS window_end,
               threshold, max(kind = 'triggered') AS triggered,
               max(kind = 'confirmed' OR (kind = 'triggered' AND source = 'exact')) AS confirmed,
               max(kind = 'resolved') AS resolved
        FROM {db}.alert_transitions
        WHERE rule_id IN (SELECT rule_id FROM rules) {scope}
          AND period_start <= {{now:DateTime64(3, 'UTC')}}
          AND period_end > {{now:DateTime64(3, 'UTC')}}
        GROUP BY rule_id, customer_id, target, period_start, threshold
    ) AS t
    LEFT JOIN (
        SELECT l.1 AS label_rule, l.2 AS label, l.3 AS position
        FROM (SELECT arrayJoin({{labels:Array(Tuple(String, String, UInt32))}}) AS l)
    ) AS l ON l.label_rule = t.rule_id AND l.label = t.threshold
    GROUP BY rule_id, customer_id, target, period_start
)
SELECT rule_id, customer_id, target, period_start,
       if(watched, w.period_end, h.period_end), num, if(watched, den, 1), limit_quantity, states
FROM watches AS w
FULL JOIN history AS h USING (rule_id, customer_id, target, period_start)
JOIN rules USING (rule_id)
WHERE {_reached(first_unconfirmed)}
   OR arrayExists(p -> p = 0 OR NOT {_reached("p")}, open_positions)
"""
