"""Alerts on randomized catalogs and event streams, through the real pipeline: each round
loads new events and voids of earlier ones (`billing ingest` meters and evaluates the
alerts), then a backfill re-meters the day. The alerts `billing alerts` lists equal an
independent reference: a threshold is triggered iff the figure after some round reached
it, and resolved iff a later round's figure fell below it; nothing appears twice. Three
rules watch each customer: a feature's usage in percent of its limit (acme's raised by a
quota grant), a metric's quantity with a recurring step, and acme's amount so far.

CI runs a few examples; `ALERT_EXAMPLES=50` runs more."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.support import run, start_afresh

NOW = datetime.now(UTC).replace(microsecond=0)
STAMP = NOW.isoformat().replace("+00:00", "Z")
CUSTOMERS = ("acme", "beta")
GRANT = 2  # units of acme's quota grant


def catalog_text(limit: int, percents: list[int], every: int | None) -> str:
    thresholds = ", ".join(f'"{p}%"' for p in percents)
    step = f', every: "{every}%"' if every else ""
    return f"""\
metrics:
  - {{code: calls, event_name: api_request, aggregation: count}}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{{metric: calls, model: per_unit, unit_price: "0.01"}}]
        entitlements: [{{feature: calls, limit: {limit}, enforcement: soft}}]
customers:
  - {{id: acme, name: Acme, subscriptions: [{{plan: pro, start: 2026-01-01}}]}}
  - {{id: beta, name: Beta, subscriptions: [{{plan: pro, start: 2026-01-01}}]}}
quota_grants:
  - {{id: more, customer: acme, feature: calls, units: {GRANT}, effective: 2026-01-01}}
alerts:
  - {{id: usage, customer: "*", feature: calls, thresholds: [{thresholds}]{step}}}
  - {{id: volume, customer: "*", metric: calls, thresholds: ["3"], every: "2"}}
  - {{id: spend, customer: acme, amount: so_far, thresholds: ["0.02", "0.05"]}}
"""


def reference_labels(
    customer: str, calls: int, limit: int, percents: list[int], every: int | None
) -> set[tuple[str, str]]:
    """The (rule, label) pairs that `calls` reached, written out by hand."""
    if calls == 0:
        return set()
    limit += GRANT if customer == "acme" else 0
    labels = {("usage", f"{p}%") for p in percents if calls * 100 >= limit * p}
    if every and len(labels) == len(percents):
        level = percents[-1] + every
        while calls * 100 >= limit * level:
            labels.add(("usage", f"{level}%"))
            level += every
    labels |= {("volume", str(level)) for level in range(3, calls + 1, 2)}
    if customer == "acme":
        labels |= {("spend", text) for cents, text in ((2, "0.02"), (5, "0.05")) if calls >= cents}
    return labels


rounds = st.lists(
    st.fixed_dictionaries(
        {customer: st.tuples(st.integers(0, 9), st.integers(0, 6)) for customer in CUSTOMERS}
    ),
    min_size=2,
    max_size=3,
)


@settings(
    max_examples=int(os.environ.get("ALERT_EXAMPLES", "2")),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limit=st.sampled_from([4, 6, 10]),
    percents=st.lists(st.sampled_from([25, 50, 80, 100, 150]), min_size=1, unique=True).map(sorted),
    every=st.sampled_from([None, 50, 100]),
    plan=rounds,
)
# Figures exactly at a threshold (beta at 50 % and at 5 calls), then one corrected below it.
@example(
    limit=10,
    percents=[50],
    every=None,
    plan=[{"acme": (3, 0), "beta": (5, 0)}, {"acme": (0, 1), "beta": (0, 0)}],
)
def test_alerts_match_the_reference(
    limit, percents, every, plan, client, database, home, tmp_path, capsys
):
    start_afresh(client, database, home)
    catalog = tmp_path / f"{uuid.uuid4().hex}.yaml"
    catalog.write_text(catalog_text(limit, percents, every))
    run(capsys, "catalog", "apply", str(catalog))
    counted: dict[str, list[str]] = {customer: [] for customer in CUSTOMERS}
    reached: dict[str, list[set]] = {customer: [] for customer in CUSTOMERS}
    for number, step in enumerate(plan):
        lines = []
        for customer, (new, voids) in step.items():
            for n in range(new):
                event_id = f"{customer}-{number}-{n}"
                lines.append({"event_id": event_id, "customer_id": customer,
                              "event_name": "api_request", "timestamp": STAMP})  # fmt: skip
                counted[customer].append(event_id)
            for earlier in counted[customer][:voids]:
                lines.append({"event_id": f"void-{earlier}", "customer_id": customer,
                              "event_name": "api_request", "timestamp": STAMP,
                              "replaces": earlier, "void": True})  # fmt: skip
            del counted[customer][:voids]
        path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        if lines:
            run(capsys, "ingest", str(path))
        for customer in CUSTOMERS:
            reached[customer].append(
                reference_labels(customer, len(counted[customer]), limit, percents, every)
            )
    listed = json.loads(run(capsys, "alerts", "--format", "json"))
    day = NOW.date().isoformat()
    run(capsys, "backfill", "--from", day, "--to", day)
    assert json.loads(run(capsys, "alerts", "--format", "json")) == listed  # nothing new
    expected = set()
    for customer, history in reached.items():
        for label in set().union(*history):
            expected.add(("triggered", customer, *label))
            first = next(i for i, labels in enumerate(history) if label in labels)
            if any(label not in labels for labels in history[first:]):
                expected.add(("resolved", customer, *label))
    announced = [(a["alert"], a["customer_id"], a["rule"], a["threshold"]) for a in listed]
    assert len(announced) == len(set(announced))
    assert set(announced) == expected
    usage = {a["customer_id"]: Decimal(a["figure"]) for a in listed if a["alert"] == "triggered"}
    assert all(figure > 0 for figure in usage.values())
