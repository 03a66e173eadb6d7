"""A month billed and finalized, then late and voided events: the backfill sensor re-meters
exactly the changed days, re-bills the open period once, and the adjustments and credit
notes it carries make the sum over documents equal a from-scratch billing of all the data.
Finalized invoices stay byte-identical throughout.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.cli.runs import JobRunner
from billing_dagster.ingest import landing
from tests.support import sensor_evaluator

CATALOG = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
  - {code: tokens, event_name: completion, aggregation: sum, property: tokens, group_by: model}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "10.00"}]
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 50, unit_price: "0"}
              - {up_to: 200, unit_price: "0.10", flat_fee: "1.00"}
              - {up_to: null, unit_price: "0.05"}
          - {metric: tokens, model: per_unit, unit_price: "0.001"}
customers:
  - id: acme
    name: Acme
    tax_rate: "0.20"
    subscriptions: [{plan: pro, start: 2026-09-01}]
  - id: globex
    name: Globex
    subscriptions: [{plan: pro, start: 2026-09-01}]
  - id: initech
    name: Initech
    subscriptions: [{plan: pro, start: 2026-09-01, end: 2026-10-21}]
credit_grants:
  - {id: g1, customer: acme, amount: "30.00", effective: 2026-09-01, expires: null}
"""

DAYS = {"acme": 31, "globex": 31, "initech": 20}


def month_of_events() -> list[dict]:
    """October's events (and a few of November's), the same on every run."""
    rng = random.Random(7)
    events = []
    for customer, days in DAYS.items():
        for n in range(300):
            at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(
                days=rng.randrange(days), seconds=rng.randrange(86400)
            )
            name = "api_request" if n % 3 else "completion"
            properties = {"model": rng.choice(["small", "large"]), "tokens": rng.randrange(900)}
            events.append(
                {
                    "event_id": f"{customer}-{n}",
                    "customer_id": customer,
                    "event_name": name,
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "properties": properties if name == "completion" else {},
                }
            )
        events.append(
            {
                "event_id": f"{customer}-nov",
                "customer_id": customer,
                "event_name": "api_request",
                "timestamp": "2026-11-02T10:00:00Z",
            }
        )
    return events


def write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def run(capsys, *args: str) -> str:
    code = billing(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def documents(capsys, period: str) -> tuple[list[dict], list[dict]]:
    invoices = json.loads(run(capsys, "invoices", "--period", period, "--format", "json"))
    notes = json.loads(run(capsys, "credit-notes", "--period", period, "--format", "json"))
    return invoices, notes


def test_late_and_voided_events_after_finalization(
    database, settings, client, home, tmp_path, capsys, monkeypatch
):
    events = month_of_events()
    october = [e for e in events if e["timestamp"].startswith("2026-10")]
    rng = random.Random(11)
    # 5% of October arrives late (acme and initech), 1% is voided afterwards (globex).
    late = rng.sample([e for e in october if e["customer_id"] != "globex"], len(october) // 20)
    voided = rng.sample([e for e in october if e["customer_id"] == "globex"], len(october) // 100)
    on_time = [e for e in events if e not in late]
    voids = [
        {**e, "event_id": f"void-{e['event_id']}", "replaces": e["event_id"], "void": True}
        for e in voided
    ]
    assert (len(october), len(late), len(voided)) == (900, 45, 9)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    first_file = write(tmp_path / "on-time.jsonl", on_time)
    late_file = write(tmp_path / "late.jsonl", late + voids)

    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(first_file))
    run(capsys, "bill", "--period", "2026-10")
    finalized = json.loads(run(capsys, "finalize", "--period", "2026-10"))
    assert (finalized["status"], finalized["invoices"]) == ("finalized", 3)
    frozen = run(capsys, "invoices", "--period", "2026-10", "--format", "json")
    assert {i["status"] for i in json.loads(frozen)} == {"finalized"}

    # With no late data, the open period carries no adjustment.
    run(capsys, "bill", "--period", "2026-11")
    november, notes = documents(capsys, "2026-11")
    assert [i["adjustments"] for i in november] == ["0.00", "0.00"] and notes == []

    # The late file lands and is loaded by the ingest job alone (as the landing schedule
    # does): nothing re-meters it but the sensor.
    runner = JobRunner(home)
    landing.land(home, late_file, datetime.now(UTC).date())
    runner.run("ingest_job", partition_key=datetime.now(UTC).date().isoformat())
    sensor = sensor_evaluator(runner, settings, home)
    requests, cursor = sensor(None)
    changed_days = sorted({e["timestamp"][:10] for e in late + voided})
    assert [(r.job_name, r.tags["dagster/asset_partition_range_start"]) for r in requests] == [
        ("metering_job", first) for first, _ in day_runs(changed_days)
    ]
    assert [r.tags["dagster/asset_partition_range_end"] for r in requests] == [
        last for _, last in day_runs(changed_days)
    ]
    assert sensor(cursor) == ([], cursor)  # asked again: nothing twice
    for request in requests:
        runner.run(request.job_name, tags=request.tags)
    status = json.loads(run(capsys, "status", "--format", "json"))
    assert status["adjustments"] == {
        "carrier": "2026-11",
        "unbilled_late_periods": ["2026-10"],
        "drafted": [],
    }
    requests, cursor = sensor(cursor)
    assert [(r.job_name, r.partition_key) for r in requests] == [("billing_job", "2026-11-01")]
    assert sensor(cursor) == ([], cursor)
    runner.run("billing_job", partition_key="2026-11-01")

    november, notes = documents(capsys, "2026-11")
    adjusted = {
        i["customer_id"]: [line for line in i["lines"] if line["kind"] == "adjustment"]
        for i in november
    }
    assert sorted(adjusted) == ["acme", "globex", "initech"]
    assert [len(adjusted[c]) for c in ("acme", "globex", "initech")] == [1, 0, 1]
    assert [n["customer_id"] for n in notes] == ["globex"]
    details = adjusted["acme"][0]["details"]
    assert [(d["kind"], d["code"], d["group"]) for d in details] == [
        ("tax", None, None),
        ("usage", "api_calls", None),
        ("usage", "tokens", "large"),
        ("usage", "tokens", "small"),
    ]
    late_calls = sum(e["customer_id"] == "acme" and e["event_name"] == "api_request" for e in late)
    calls = details[1]
    assert int(calls["quantity_corrected"]) - int(calls["quantity_billed"]) == late_calls == 14
    # 186 calls: 136 above the free 50 at 0.10 plus the tier's 1.00 fee; 200 calls: 150.
    assert (calls["amount_billed"], calls["amount_corrected"]) == ("14.60", "16.00")

    # Billing again with no new data changes nothing; the finalized period never changes.
    run(capsys, "bill", "--period", "2026-11")
    assert documents(capsys, "2026-11") == (november, notes)
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    assert run(capsys, "invoices", "--period", "2026-10", "--format", "json") == frozen

    status = json.loads(run(capsys, "status", "--format", "json"))
    assert [(p["period"], p["status"]) for p in status["periods"]] == [
        ("2026-10", "finalized"),
        ("2026-11", "draft"),
    ]
    assert status["days_to_meter"] == []
    assert status["adjustments"]["unbilled_late_periods"] == []
    assert [
        (a["customer_id"], a["amount"][0] == "-") for a in status["adjustments"]["drafted"]
    ] == [
        ("acme", False),
        ("globex", True),
        ("initech", False),
    ]
    assert [s["source"] for s in status["sources"]] == ["(no source)"]

    billed = totals(json.loads(frozen), november, notes)
    scratch = from_scratch(capsys, monkeypatch, settings, tmp_path, catalog, first_file, late_file)
    assert billed == scratch
    # The corrections are real: the late events raised acme's and initech's October.
    assert scratch["acme"] > sum_totals(json.loads(frozen), "acme")


def day_runs(days: list[str]) -> list[tuple[str, str]]:
    runs: list[list[str]] = []
    for day in days:
        if runs and date.fromisoformat(day) - date.fromisoformat(runs[-1][1]) == timedelta(1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(first, last) for first, last in runs]


def totals(*document_lists: list[dict]) -> dict[str, Decimal]:
    """Per customer: invoice totals less credit notes."""
    result: dict[str, Decimal] = {}
    for documents_ in document_lists:
        for doc in documents_:
            sign = -1 if "credit_note_id" in doc else 1
            result[doc["customer_id"]] = result.get(doc["customer_id"], Decimal(0)) + sign * (
                Decimal(doc["total"])
            )
    return result


def sum_totals(invoices: list[dict], customer: str) -> Decimal:
    return sum(Decimal(i["total"]) for i in invoices if i["customer_id"] == customer)


def from_scratch(capsys, monkeypatch, settings, tmp_path, catalog, *files) -> dict[str, Decimal]:
    """October and November billed in a new home and database from all the data at once."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CLICKHOUSE_DATABASE", database)
    monkeypatch.setenv("BILLING_HOME", str(tmp_path / "scratch-home"))
    try:
        run(capsys, "catalog", "apply", str(catalog))
        run(capsys, "ingest", *map(str, files))
        run(capsys, "bill", "--period", "2026-10")
        run(capsys, "bill", "--period", "2026-11")
        return totals(documents(capsys, "2026-10")[0], documents(capsys, "2026-11")[0])
    finally:
        settings.client().command(f"DROP DATABASE IF EXISTS `{database}` SYNC")
