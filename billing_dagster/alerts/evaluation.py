"""Alerts from exact usage, after every metering run: the warehouse finds the watches whose
alerts change (`candidates.py`), and `transitions.exact_transitions` decides for those, under
the alerts lock (`store.record`).

A run that metered days of a billing period already over (late events, a correction, a
backfill) evaluates that period too, as of its last instant: its alerts trigger and resolve
like the current period's. Day and hour windows are evaluated while they are current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.candidates import candidates
from billing_dagster.alerts.store import record
from billing_dagster.alerts.transitions import Transition, exact_transitions
from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part
from billing_dagster.entitlements.windows import window
from billing_dagster.ingest.ledger import committed_loads
from billing_dagster.metering.ledger import metered_loads


def evaluation_instants(first_day: datetime, end: datetime, now: datetime) -> list[datetime]:
    """When to evaluate after metering the days [first_day, end): the last instant of each
    billing period among them that is over, then now."""
    instants = []
    period_start, period_end = window("billing_period", first_day)
    while period_start < end and period_end <= now:
        instants.append(period_end - timedelta(milliseconds=1))
        period_start, period_end = window("billing_period", period_end)
    return [*instants, now]


def evaluate_exact(client: Client, database: str, home: Path, now: datetime) -> list[Transition]:
    """Trigger, confirm and resolve alerts from exact usage; what changed.

    Within one hour and catalog, a customer's figures change only with its events: after
    an evaluation that had seen the loads up to N metered, the next looks only at the
    customers of later loads (none: no query at all)."""
    version = latest_catalog_version(client, database)
    if version is None:
        return []
    rules = {rule.id: rule for rule in load_catalog_part(client, database, version, "alerts")}
    if not rules:
        return []
    grants = load_catalog_part(client, database, version, "quota_grants")
    hour = window("hour", now)[0]
    since = _evaluated_loads(client, database, hour, version)
    if since is not None and committed_loads(client, database) <= since:
        return []
    seen = metered_loads(client, database)  # before reading usage: later ones count next time

    def decide() -> list[Transition]:
        figures, history = candidates(client, database, rules, grants, now, since)
        return exact_transitions(rules, figures, history)

    transitions = record(client, database, home, rules, decide)
    client.insert(
        f"`{database}`.alert_evaluations",
        [[hour, version, seen, datetime.now(UTC)]],
        column_names=["window_hour", "catalog_version", "metered_loads", "evaluated_at"],
    )
    return transitions


def _evaluated_loads(client: Client, database: str, hour: datetime, version: int) -> int | None:
    """The loads metered when the latest evaluation of this hour and catalog ran, if any."""
    rows = client.query(
        f"SELECT max(metered_loads) FROM `{database}`.alert_evaluations "
        f"WHERE window_hour = {{hour:DateTime64(3, 'UTC')}} AND catalog_version = {{v:UInt32}} "
        f"HAVING count() > 0",
        parameters={"hour": hour, "v": version},
    ).result_rows
    return int(rows[0][0]) if rows else None
