"""An alert whose watch is gone (the subscription ended) is resolved once, with the figure
0 and the window it fired in; alerts of past windows are left as they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing_dagster.alerts.evaluation import evaluate_exact
from billing_dagster.alerts.store import read_history, record
from billing_dagster.alerts.transitions import Figure, Watch, exact_transitions
from billing_dagster.catalog.model import AlertRule, Threshold
from billing_dagster.entitlements.windows import window
from tests.catalogs import calls_catalog
from tests.support import run

NOW = datetime.now(UTC)
TODAY = NOW.date().isoformat()
RULES = {"volume": AlertRule("volume", "*", "metric", "calls", (Threshold(Decimal(1)),))}
CATALOG = calls_catalog(
    [f"{{id: acme, name: Acme, subscriptions: [{{plan: pro, start: 2026-01-01, end: {TODAY}}}]}}"],
    'alerts:\n  - {id: volume, customer: "*", metric: calls, thresholds: ["1"]}\n',
)


def test_an_alert_whose_subscription_ended_resolves_once(client, database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    start, end = window("billing_period", NOW)
    past_start, past_end = window("billing_period", start - timedelta(days=1))
    fired = {
        Watch("volume", "acme", "calls", start): Figure(Decimal(5), None, end),
        Watch("volume", "acme", "calls", past_start): Figure(Decimal(5), None, past_end),
    }
    triggered = record(
        client,
        database,
        home,
        RULES,
        lambda: exact_transitions(RULES, fired, read_history(client, database)),
    )
    assert [t.kind for t in triggered] == ["triggered", "triggered"]

    (resolved,) = evaluate_exact(client, database, home, NOW)
    assert (resolved.kind, resolved.key.watch, resolved.key.threshold) == (
        "resolved",
        Watch("volume", "acme", "calls", start),
        "1",
    )
    assert (resolved.figure.value, resolved.figure.period_end) == (0, end)
    assert evaluate_exact(client, database, home, NOW) == []
