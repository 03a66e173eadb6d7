"""`billing usage` agrees exactly with the pure-Python reference on randomized scenarios.

Each example is a whole catalog and two event files built from the awkward cases: period
edges, offsets, duplicates with and without conflicts, corrections and voids, numbers
that a float would round, unknown customers and bad lines, and customers holding a second
product at the same time (whose subscriptions then count only their own metrics), customers
in five time zones (days and periods on their calendars, across DST changes). Every example
runs the real
pipeline (Dagster, ClickHouse, dbt), so examples are few but each covers a lot.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from billing_dagster.catalog.model import (
    Charge,
    Entitlement,
    Metric,
    Plan,
    PlanVersion,
    Price,
    Subscription,
)
from tests.catalogs import ZONE_EDGES, ZONES, catalog_of, store
from tests.reference.usage import reference_ingest, usage_of_events
from tests.support import run, start_afresh

METRICS = (
    Metric("ok_calls", "api", "count", filters={"status": ("200", "201")}),
    Metric("all_calls", "api", "count"),
    Metric("users", "api", "count_unique", "user"),
    Metric("volume", "gen", "sum", "n", group_by="model"),
    Metric("peak", "gen", "max", "n"),
    Metric("level", "seat", "latest", "n"),
    Metric("held", "seat", "time_weighted_sum", "n", group_by="model", unit="hour"),
    Metric("disk", "gen", "time_weighted_sum", "n", unit="day"),
    Metric("top", "gen", "percentile", "n", group_by="model", percentile=Decimal(100), bucket="1h"),
    Metric("p99", "gen", "percentile", "n", percentile=Decimal("99.8"), bucket="1h"),
    Metric("low", "seat", "percentile", "n", percentile=Decimal("0.01"), bucket="5m"),
)
#: A second product: it charges `peak` and its feature counts `users`.
STORE = Plan(
    "store",
    "Store",
    (
        PlanVersion(
            "store",
            1,
            date(2020, 1, 1),
            "USD",
            charges=(Charge("peak", Price("per_unit", unit_price=Decimal(1))),),
            entitlements=(Entitlement("people", Decimal(10), "soft", metric="users"),),
        ),
    ),
    product="storage",
)
CUSTOMERS = ["c0", "c1", "c2", "c3"]
INSTANTS = [
    "2026-09-30T23:59:59.999Z",
    "2026-10-01T00:00:00Z",
    "2026-10-01T01:30:00+02:00",
    "2026-10-09T23:59:59.999Z",
    "2026-10-10T00:00:00.0005Z",
    "2026-10-15T12:00:00Z",
    "2026-10-20T08:00:00-05:00",
    "2026-10-31T23:59:59.999Z",
    "2026-10-31T23:30:00-01:00",
    "2026-11-01T00:00:00Z",
    "2026-11-02T00:00:00z",
    *ZONE_EDGES,
]
NUMBERS = ["0.1", "0.2", "1", "2.50", "-3", "7", "12345678901234567.123456789", "1e2"]
WINDOWS = [
    [(date(2026, 1, 1), None)],
    [(date(2026, 10, 10), None)],
    [(date(2026, 9, 1), date(2026, 10, 10)), (date(2026, 10, 10), date(2026, 11, 1))],
    [(date(2026, 10, 1), date(2026, 10, 31))],
    [(date(2026, 11, 1), None)],
]


def json_value(value) -> str:
    """Numbers are written into the JSON text as given, never through a float."""
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


@st.composite
def event_lines(draw) -> str:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(["not json", "[]", '{"event_id": "x"}']))
    fields = {
        "event_id": f"e{draw(st.integers(0, 25))}",
        "customer_id": draw(st.sampled_from([*CUSTOMERS, "ghost"])),
        "event_name": draw(st.sampled_from(["api", "gen", "seat", "other"])),
        "timestamp": draw(st.sampled_from(INSTANTS)),
    }
    properties = {}
    for name, values in (
        ("status", ["200", "201", "500", Decimal(200)]),
        ("user", ["u1", "u2", Decimal(3), True]),
        ("model", ["small", "large"]),
        ("n", [*(Decimal(n) for n in NUMBERS), "abc", "4.5"]),
    ):
        if draw(st.booleans()):
            properties[name] = draw(st.sampled_from(values))
    if draw(st.integers(0, 5)) == 0:
        fields["replaces"] = f"e{draw(st.integers(0, 25))}"
        fields["void"] = draw(st.booleans())
    body = ", ".join(f"{json.dumps(k)}: {json_value(v)}" for k, v in fields.items())
    props = ", ".join(f"{json.dumps(k)}: {json_value(v)}" for k, v in properties.items())
    return "{" + body + ', "properties": {' + props + "}}"


scenarios = st.tuples(
    st.lists(
        st.sampled_from(range(len(WINDOWS))), min_size=len(CUSTOMERS), max_size=len(CUSTOMERS)
    ),
    st.lists(event_lines(), min_size=1, max_size=60),
    st.lists(event_lines(), min_size=0, max_size=30),
    st.lists(st.booleans(), min_size=len(CUSTOMERS), max_size=len(CUSTOMERS)),
    st.lists(st.sampled_from(ZONES), min_size=len(CUSTOMERS), max_size=len(CUSTOMERS)),
)


@settings(
    max_examples=int(os.environ.get("REFERENCE_EXAMPLES", "4")),
    deadline=None,
    # Each example runs the whole pipeline for seconds; shrinking would take many minutes.
    # The failing scenario is printed as drawn, and it is small.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
def test_usage_equals_the_reference(scenario, client, database, home, tmp_path, capsys):
    windows, first_lines, second_lines, stores, zones = scenario
    catalog = catalog_of(METRICS, {c: WINDOWS[w] for c, w in zip(CUSTOMERS, windows, strict=True)})
    start = date(2026, 10, 5)
    catalog = replace(
        catalog,
        plans=(*catalog.plans, STORE),
        customers=tuple(
            replace(c, timezone=zone, subscriptions=(*c.subscriptions, Subscription(
                f"{c.id}:store:{start}", c.id, "store", 1, start, None
            )) if stored else c.subscriptions)
            for c, stored, zone in zip(catalog.customers, stores, zones, strict=True)
        ),
    )  # fmt: skip
    files = ["\n".join(first_lines) + "\n", "\n".join(second_lines) + "\n"]
    expected = reference_ingest([files], catalog, datetime.now(UTC))
    start_afresh(client, database, home)
    store(client, database, catalog)
    paths = []
    for index, content in enumerate(files):
        path = tmp_path / f"{uuid.uuid4().hex}-{index}.jsonl"
        path.write_text(content)
        paths.append(str(path))
    assert json.loads(run(capsys, "ingest", *paths)) == expected.summaries[0]
    for period in ("2026-10", "2026-11"):
        usage = json.loads(run(capsys, "usage", "--period", period, "--format", "json"))
        assert usage == usage_of_events(expected.events, catalog, period), period
