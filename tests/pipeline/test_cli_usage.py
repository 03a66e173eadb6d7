"""`billing ingest` and `billing usage` end to end: Dagster runs the load and dbt meters.

One scenario carries many hand-computed cases, because each CLI run starts Dagster and dbt.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from billing_dagster.catalog.model import Metric
from billing_dagster.cli.main import main as billing
from tests.catalogs import catalog_of, store

METRICS = (
    Metric("calls", "api", "count", filters={"status": ("200", "201")}),
    Metric("users", "api", "count_unique", "user"),
    Metric("tokens", "completion", "sum", "tokens", group_by="model"),
    Metric("amount", "charge", "sum", "v"),
    Metric("peak", "gpu", "max", "concurrency"),
    Metric("seats", "seat", "latest", "seats"),
)
WINDOWS = {
    "a": [(date(2026, 10, 10), date(2026, 10, 20)), (date(2026, 10, 20), None)],
    "b": [(date(2026, 1, 1), None)],
}


def ev(key, customer, name, timestamp, **properties) -> dict:
    return {
        "event_id": key,
        "customer_id": customer,
        "event_name": name,
        "timestamp": timestamp,
        "properties": properties,
    }


B_EVENTS = [
    ev("e1", "b", "api", "2026-10-01T00:00:00Z", status="200", user="u1"),  # first instant
    ev("e2", "b", "api", "2026-10-31T23:59:59.999Z", status=201, user="u2"),  # last instant
    ev("e3", "b", "api", "2026-11-01T00:00:00Z", status="200", user="u9"),  # November
    ev("e4", "b", "api", "2026-10-31T23:30:00-01:00", status="200", user="u9"),  # November
    ev("e5", "b", "api", "2026-10-01T01:00:00+02:00", status="200", user="u9"),  # September
    ev("e6", "b", "api", "2026-10-05T00:00:00Z", status="500", user="u3"),  # filtered out
    ev("e7", "b", "api", "2026-10-06T00:00:00Z", status="200", user="u1"),
    ev("c1", "b", "completion", "2026-10-02T00:00:00Z", model="small", tokens=100),
    ev("c2", "b", "completion", "2026-10-02T00:00:00Z", model="large", tokens=50),
    ev("c3", "b", "completion", "2026-10-02T00:00:00Z", model="small", tokens="lots"),
    ev("c4", "b", "completion", "2026-10-02T00:00:00Z", tokens=1000),  # no group
    ev("c5", "b", "completion", "2026-10-03T00:00:00Z", model="small", tokens=1000),
    ev("c6", "b", "completion", "2026-10-03T00:00:00Z", model="large", tokens=7),
    ev("c7", "b", "completion", "2026-10-04T00:00:00Z", model="small", tokens=500),
    ev("x1", "b", "charge", "2026-10-04T00:00:00Z", v=0.1),
    ev("x2", "b", "charge", "2026-10-04T00:00:00Z", v=0.2),
    ev("g1", "b", "gpu", "2026-10-04T00:00:00Z", concurrency=3),
    ev("g2", "b", "gpu", "2026-10-09T00:00:00Z", concurrency="8.5"),
    ev("s1", "b", "seat", "2026-10-05T00:00:00Z", seats=5),
    ev("s-a", "b", "seat", "2026-10-20T00:00:00Z", seats=9),
    ev("s-b", "b", "seat", "2026-10-20T00:00:00Z", seats=7),  # same instant, greater id
]
CORRECTIONS = [
    {
        **ev("c5-fix", "b", "completion", "2026-10-03T00:00:00Z", model="small", tokens=10),
        "replaces": "c5",
    },
    {
        **ev("c6-b", "b", "completion", "2026-10-12T00:00:00Z", model="large", tokens=8),
        "replaces": "c6",
    },
    {
        **ev("c6-c", "b", "completion", "2026-10-13T00:00:00Z", model="large", tokens=9),
        "replaces": "c6-b",
    },
    {
        **ev("c7-void", "b", "completion", "2026-10-04T00:00:00Z", model="small", tokens=500),
        "replaces": "c7",
        "void": True,
    },
]
A_EVENTS = [
    ev("a1", "a", "api", "2026-10-09T23:59:59Z", status="200", user="u1"),  # before start
    ev("a2", "a", "api", "2026-10-10T00:00:00Z", status="200", user="u1"),
    ev("a3", "a", "api", "2026-10-19T23:59:59Z", status="200", user="u2"),
    ev("a4", "a", "api", "2026-10-20T00:00:00Z", status="200", user="u1"),  # new plan
    ev("a5", "a", "api", "2026-10-25T00:00:00Z", status="201", user="u1"),
]


def row(customer, metric, quantity, group=None):
    return {
        "customer_id": customer,
        "metric": metric,
        "group": group,
        "period": "2026-10",
        "quantity": quantity,
    }


EXPECTED_OCTOBER = [
    row("a", "calls", "2"),
    row("a", "calls", "2"),  # [10-10, 10-20) then [10-20, ...)
    row("a", "users", "2"),
    row("a", "users", "1"),
    row("b", "amount", "0.3"),
    row("b", "calls", "3"),
    row("b", "peak", "8.5"),
    row("b", "seats", "7"),
    row("b", "tokens", "59", "large"),
    row("b", "tokens", "110", "small"),
    row("b", "users", "3"),
]


def write_jsonl(path, events) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def run(capsys, *args) -> tuple[int, str, str]:
    code = billing(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def catalog(client, database):
    return store(client, database, catalog_of(METRICS, WINDOWS))


def test_ingest_then_usage_matches_hand_computed_quantities(catalog, home, tmp_path, capsys):
    first = write_jsonl(tmp_path / "first.jsonl", B_EVENTS + A_EVENTS)
    second = tmp_path / "second.jsonl"
    write_jsonl(second, [*CORRECTIONS, B_EVENTS[0]])  # e1 again: a duplicate
    with open(second, "a") as handle:
        handle.write("{not json\n")

    code, out, err = run(capsys, "ingest", first, str(second))
    assert code == 0, err
    assert json.loads(out) == {"accepted": 30, "duplicates": 1, "quarantined": 1}

    code, out, err = run(capsys, "usage", "--period", "2026-10", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == EXPECTED_OCTOBER

    code, out, _ = run(capsys, "ingest", first)  # the same file again changes nothing
    assert json.loads(out) == {"accepted": 0, "duplicates": 0, "quarantined": 0}
    code, out, _ = run(capsys, "usage", "--period", "2026-11", "--format", "json")
    assert json.loads(out) == [
        row("b", "calls", "2") | {"period": "2026-11"},
        row("b", "users", "1") | {"period": "2026-11"},
    ]


def test_usage_rejects_a_malformed_period(catalog, home, capsys):
    code, out, err = run(capsys, "usage", "--period", "2026-13", "--format", "json")
    assert (code, out) == (2, "")
    assert err == "billing: --period '2026-13': expected a month as YYYY-MM, e.g. 2026-10\n"


def test_commands_need_a_catalog_first(client, home, tmp_path, capsys):
    events = write_jsonl(tmp_path / "e.jsonl", A_EVENTS)
    code, out, err = run(capsys, "ingest", events)
    assert (code, out) == (2, "")
    assert (
        err == "billing: no catalog has been applied yet; run `billing catalog apply FILE` first\n"
    )


def test_ingest_reports_missing_and_unsupported_files(catalog, home, tmp_path, capsys):
    (tmp_path / "events.csv").write_text("a,b\n")
    code, _, err = run(capsys, "ingest", str(tmp_path / "nope.jsonl"), str(tmp_path / "events.csv"))
    assert code == 2
    assert err.splitlines() == [
        f"billing: {tmp_path / 'nope.jsonl'}: no such file",
        "billing: events.csv: unsupported event file type; expected one of .jsonl, "
        ".jsonl.gz, .json, .ndjson, .ndjson.gz",
    ]
