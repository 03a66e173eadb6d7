"""Alerts from exact usage, after every metering run: the warehouse finds the watches whose
alerts change (`candidates.py`), and `transitions.exact_transitions` decides for those, under
the alerts lock (`store.record`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.candidates import candidates
from billing_dagster.alerts.store import record
from billing_dagster.alerts.transitions import Transition, exact_transitions
from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part


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
