"""The alert history in the warehouse, and recording what an evaluation changes in it.

Recording holds the home's `alerts` lock from reading the history to writing the
transitions, so `billing serve` (live usage) and the metering path (exact usage) never
both trigger one alert. The outbox events go first: a process killed after them and before
the transitions decides the same transitions again next time, with the same event ids,
which the outbox already holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.transitions import AlertKey, AlertState, Transition, Watch
from billing_dagster.catalog.model import AlertRule
from billing_dagster.entitlements.exact import as_utc
from billing_dagster.formatting import decimal_text
from billing_dagster.locks import ALERTS, home_lock
from billing_dagster.webhooks.outbox import OutboxEvent, publish


def read_history(
    client: Client, database: str, customers: set[str] | None = None
) -> dict[AlertKey, AlertState]:
    """The state of every alert (of these customers), from its transitions."""
    where = "WHERE customer_id IN {customers:Array(String)}" if customers is not None else ""
    rows = client.query(
        f"SELECT rule_id, customer_id, target, period_start, threshold, kind, source "
        f"FROM `{database}`.alert_transitions {where}",
        parameters={"customers": sorted(customers or ())},
    ).result_rows
    history: dict[AlertKey, AlertState] = {}
    for rule_id, customer, target, start, threshold, kind, source in rows:
        key = AlertKey(Watch(rule_id, customer, target, as_utc(start)), threshold)
        state = history.setdefault(key, AlertState())
        state.triggered |= kind == "triggered"
        state.confirmed |= kind == "confirmed" or (kind == "triggered" and source == "exact")
        state.resolved |= kind == "resolved"
    return history


def record(
    client: Client,
    database: str,
    home: Path,
    rules: dict[str, AlertRule],
    decide: Callable[[], list[Transition]],
) -> list[Transition]:
    """Under the lock: decide the transitions (reading the history there), and write them
    with their outbox events. Returns them."""
    with home_lock(home, ALERTS):
        transitions = decide()
        if not transitions:
            return []
        now = datetime.now(UTC)
        publish(
            client,
            database,
            [
                outbox_event(t, rules[t.key.watch.rule_id], now)
                for t in transitions
                if t.kind != "confirmed"
            ],
        )
        client.insert(
            f"`{database}`.alert_transitions",
            [_row(t, rules[t.key.watch.rule_id], now) for t in transitions],
            column_names=[
                "event_id",
                "kind",
                "source",
                "rule_id",
                "customer_id",
                "target",
                "period_start",
                "period_end",
                "threshold",
                "figure",
                "limit_quantity",
                "spending_cap",
                "recorded_at",
            ],
        )
    return transitions


def outbox_event(transition: Transition, rule: AlertRule, now: datetime) -> OutboxEvent:
    watch, figure = transition.key.watch, transition.figure
    return OutboxEvent(
        transition.event_id,
        f"alert.{transition.kind}",
        now,
        {
            "rule": watch.rule_id,
            "customer_id": watch.customer_id,
            "target": {"kind": rule.target, "code": watch.target},
            "period_start": watch.period_start.isoformat(),
            "period_end": figure.period_end.isoformat(),
            "threshold": transition.key.threshold,
            "figure": decimal_text(figure.value),
            "limit": decimal_text(figure.limit) if figure.limit is not None else None,
            "spending_cap": rule.spending_cap,
            "source": transition.source,
        },
    )


def _row(transition: Transition, rule: AlertRule, now: datetime) -> list:
    watch, figure = transition.key.watch, transition.figure
    return [
        transition.event_id,
        transition.kind,
        transition.source,
        watch.rule_id,
        watch.customer_id,
        watch.target,
        watch.period_start,
        figure.period_end,
        transition.key.threshold,
        figure.value,
        figure.limit,
        rule.spending_cap,
        now,
    ]


def alert_listing(client: Client, database: str, period: str | None) -> list[dict]:
    """What fired and when, for `billing alerts`: one row per transition announced
    (triggered, resolved), oldest first; of one billing period (YYYY-MM) when given."""
    where = "AND formatDateTime(period_start, '%Y-%m') = {period:String}" if period else ""
    rows = client.query(
        f"SELECT recorded_at, kind, source, rule_id, customer_id, target, period_start, "
        f"threshold, figure, limit_quantity, spending_cap, event_id "
        f"FROM `{database}`.alert_transitions WHERE kind != 'confirmed' {where} "
        f"ORDER BY recorded_at, customer_id, rule_id, threshold",
        parameters={"period": period or ""},
    ).result_rows
    columns = ["at", "kind", "source", "rule", "customer_id", "target", "period_start",
               "threshold", "figure", "limit", "spending_cap", "event_id"]  # fmt: skip
    listing = []
    for row in rows:
        entry = dict(zip(columns, row, strict=True))
        entry["alert"] = entry.pop("kind")
        entry["at"] = as_utc(entry["at"]).isoformat()
        entry["period_start"] = as_utc(entry["period_start"]).isoformat()
        entry["figure"] = decimal_text(entry["figure"])
        entry["limit"] = decimal_text(entry["limit"]) if entry["limit"] is not None else None
        listing.append(entry)
    return listing
