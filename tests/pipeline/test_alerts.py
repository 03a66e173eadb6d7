"""Alerts end to end: `billing serve` raises a threshold crossed in live usage and delivers
it signed to a real receiver; a spending cap denies the hard-limited features at once;
metering confirms without announcing again and triggers the metric and amount rules; a
correction that lowers usage resolves the alerts once; re-running the metering path
changes nothing. `billing alerts` lists exactly what the receiver got."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from tests.api_client import get, once_changed, post, serving
from tests.support import run
from tests.webhooks.receiver import Receiver

NOW = datetime.now(UTC).replace(microsecond=0)
STAMP = NOW.isoformat().replace("+00:00", "Z")
SECRET = "whsec_alerts_test"

CATALOG = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
  - {code: tokens, event_name: completion, aggregation: sum, property: tokens}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges:
          - {metric: api_calls, model: per_unit, unit_price: "0.10"}
        entitlements:
          - {feature: api_calls, limit: 10, enforcement: hard}
          - {feature: tokens, limit: "1000", enforcement: soft}
customers:
  - {id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}
  - {id: beta, name: Beta, subscriptions: [{plan: pro, start: 2026-01-01}]}
alerts:
  - {id: calls, customer: "*", feature: api_calls, thresholds: ["50%", "100%"]}
  - {id: token-cap, customer: acme, feature: tokens, thresholds: ["100%"], spending_cap: true}
  - {id: spend, customer: "*", amount: so_far, thresholds: ["0.50"]}
  - {id: volume, customer: acme, metric: tokens, thresholds: ["500"]}
  - {id: outlook, customer: beta, amount: projected, thresholds: ["0.10", "3.20"]}
"""


def event(event_id: str, customer: str = "acme", name: str = "api_request", **extra) -> dict:
    properties = extra.pop("properties", {})
    return {"event_id": event_id, "customer_id": customer, "event_name": name,
            "timestamp": STAMP, "properties": properties, **extra}  # fmt: skip


def test_alerts_live_then_exact_then_resolved_each_once(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    keys = {
        scope: json.loads(run(capsys, "keys", "create", "--scope", scope))["secret"]
        for scope in ("check", "ingest")
    }
    receiver = Receiver(SECRET, ["500", "drop"])
    run(capsys, "webhooks", "add", receiver.url, "--secret", SECRET, "--events",
        "alert.triggered,alert.resolved,entitlement.limit_reached")  # fmt: skip
    try:
        with serving(home, "--seal-after", "0") as (_, base):
            events = [event(f"c{i}") for i in range(5)] + [event("b1", customer="beta")]
            events.append(event("t1", name="completion", properties={"tokens": "1000"}))
            assert post(f"{base}/v1/events/batch", keys["ingest"], {"events": events})[0] == 202
            # Live: 5 of 10 calls (50 %), and the token cap reached.
            once_changed(receiver.unique, lambda seen: len(seen) >= 3, deadline_s=60)
            calls = f"{base}/v1/customers/acme/entitlements/api_calls"
            answer = once_changed(
                lambda: get(calls, keys["check"])[2], lambda a: a["reason"] == "spending_cap"
            )
            assert (answer["has_access"], answer["usage"]) == (False, "5")
            # beta is not capped
            assert get(f"{base}/v1/customers/beta/entitlements/api_calls", keys["check"])[2][
                "has_access"
            ]
        assert receiver.bad_signatures == 0
        live = {
            (b["type"], b["data"].get("rule"), b["data"].get("threshold"), b["data"].get("feature"))
            for b in receiver.bodies.values()
        }
        assert live == {
            ("alert.triggered", "calls", "50%", None),
            ("alert.triggered", "token-cap", "100%", None),
            ("entitlement.limit_reached", None, None, "tokens"),
        }
        # Exact: metering confirms both (no new announcement) and triggers the amount rule.
        run(capsys, "ingest")
        listed = json.loads(run(capsys, "alerts", "--format", "json"))
        assert sorted((a["alert"], a["source"], a["rule"], a["threshold"]) for a in listed) == [
            ("triggered", "exact", "outlook", "0.10"),
            ("triggered", "exact", "spend", "0.50"),
            ("triggered", "exact", "volume", "500"),
            ("triggered", "live", "calls", "50%"),
            ("triggered", "live", "token-cap", "100%"),
        ]
        # beta's 0.10 so far, at the pace of the days gone (today counted) over the month,
        # as the warehouse keeps a figure (12 decimals)
        (outlook,) = [a for a in listed if a["rule"] == "outlook"]
        month = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)
        days = ((month + timedelta(days=32)).replace(day=1) - month).days
        projected = Decimal("0.10") * days / NOW.day
        assert Decimal(outlook["figure"]) == projected.quantize(Decimal("1e-12"), ROUND_DOWN)
        assert json.loads(run(capsys, "webhooks", "deliver")) == {
            "delivered": 3,
            "failed_attempts": 0,
        }
        # A correction lowers tokens below the cap: resolved once, and acme is no longer capped;
        # re-metering the day (a backfill) adds nothing.
        fix = event("t1-fix", name="completion", properties={"tokens": "10"}, replaces="t1")
        path = tmp_path / "fix.jsonl"
        path.write_text(json.dumps(fix) + "\n")
        run(capsys, "ingest", str(path))
        listed = json.loads(run(capsys, "alerts", "--format", "json"))
        resolved = [(a["rule"], a["threshold"]) for a in listed if a["alert"] == "resolved"]
        assert sorted(resolved) == [("token-cap", "100%"), ("volume", "500")]
        run(capsys, "backfill", "--from", NOW.date().isoformat(), "--to", NOW.date().isoformat())
        assert json.loads(run(capsys, "alerts", "--format", "json")) == listed
        features = json.loads(run(capsys, "entitlements", "--customer", "acme", "--format", "json"))
        assert {f["feature"]: f["reason"] for f in features} == {"api_calls": "ok", "tokens": "ok"}
        assert json.loads(run(capsys, "webhooks", "deliver")) == {
            "delivered": 2,
            "failed_attempts": 0,
        }
        types = sorted(b["type"] for b in receiver.bodies.values())
        assert types == [
            "alert.resolved",
            "alert.resolved",
            "alert.triggered",
            "alert.triggered",
            "alert.triggered",
            "alert.triggered",
            "alert.triggered",
            "entitlement.limit_reached",
        ]
        assert len(receiver.seen) == len(set(receiver.seen)) == 8
    finally:
        receiver.stop()
