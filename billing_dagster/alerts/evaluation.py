"""Alerts from exact usage, after every metering run: the warehouse finds the watches whose
alerts change (`candidates.py`), and `transitions.exact_transitions` decides for those, under
the alerts lock (`store.record`).

A run that metered days of a billing period already over (late events, a correction, a
backfill) evaluates that period too, as of its last instant: its alerts trigger and resolve
like the current period's. Day and hour windows are evaluated while they are current."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.candidates import candidates
from billing_dagster.alerts.store import record
from billing_dagster.alerts.transitions import Transition, exact_transitions
from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part
from billing_dagster.entitlements.windows import window


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
    """Trigger, confirm and resolve alerts from exact usage; what changed."""
    version = latest_catalog_version(client, database)
    if version is None:
        return []
    rules = {rule.id: rule for rule in load_catalog_part(client, database, version, "alerts")}
    if not rules:
        return []
    grants = load_catalog_part(client, database, version, "quota_grants")

    def decide() -> list[Transition]:
        figures, history = candidates(client, database, rules, grants, now)
        return exact_transitions(rules, figures, history)

    return record(client, database, home, rules, decide)
