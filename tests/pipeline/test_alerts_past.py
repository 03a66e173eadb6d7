"""Late events of a billing period that is over trigger that period's alerts, and a later
correction resolves them, once each: a metering run evaluates the periods it metered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from billing_dagster.entitlements.windows import window
from tests.catalogs import calls_catalog
from tests.support import run

MONTH_START = window("billing_period", datetime.now(UTC))[0]
LAST_MONTH = MONTH_START - timedelta(days=1)
STAMP = LAST_MONTH.replace(day=15, hour=12).isoformat().replace("+00:00", "Z")
CATALOG = calls_catalog(
    ["{id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}"],
    'alerts:\n  - {id: volume, customer: "*", metric: calls, thresholds: ["2", "3"]}\n',
)


def ingest(capsys, path, *events: dict) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    run(capsys, "ingest", str(path))


def test_a_closed_month_alerts_on_late_events_and_resolves_on_a_correction(
    database, home, tmp_path, capsys
):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    call = {"customer_id": "acme", "event_name": "api_request", "timestamp": STAMP}
    ingest(capsys, tmp_path / "late.jsonl", *({**call, "event_id": f"late-{n}"} for n in range(3)))
    fix = {**call, "event_id": "fix", "replaces": "late-0", "void": True}
    ingest(capsys, tmp_path / "fix.jsonl", fix)
    period = LAST_MONTH.strftime("%Y-%m")
    listed = json.loads(run(capsys, "alerts", "--period", period, "--format", "json"))
    assert [(a["alert"], a["threshold"], a["figure"], a["period_start"]) for a in listed] == [
        ("triggered", "2", "3", LAST_MONTH.replace(day=1, hour=0).isoformat()),
        ("triggered", "3", "3", LAST_MONTH.replace(day=1, hour=0).isoformat()),
        ("resolved", "3", "2", LAST_MONTH.replace(day=1, hour=0).isoformat()),
    ]
    assert json.loads(run(capsys, "alerts", "--format", "json")) == listed  # none this month
