"""A day with no events, filled later by a file the ingest job loads on its own (as the
landing schedule does): the backfill sensor asks for exactly that day's metering, once, then
for the billing of its period, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from billing_dagster.cli.runs import JobRunner
from billing_dagster.ingest import landing
from tests.catalogs import CONTRACT_EXAMPLE
from tests.support import run, sensor_evaluator


def calls(days: list[int], prefix: str) -> str:
    events = [
        {"event_id": f"{prefix}{day}-{n}", "customer_id": "acme", "event_name": "api_request",
         "timestamp": f"2026-10-{day:02d}T12:00:00Z"}
        for day in days
        for n in range(3)
    ]  # fmt: skip
    return "".join(json.dumps(event) + "\n" for event in events)


def test_a_filled_gap_is_metered_then_billed_once(database, settings, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))
    first = tmp_path / "events-0001.jsonl"
    first.write_text(calls([1, 2, 5, 6], "a"))
    run(capsys, "ingest", str(first))
    run(capsys, "bill", "--period", "2026-10")
    billed = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert billed[0]["lines"][1]["quantity"] == "12"

    runner = JobRunner(home)
    sensor = sensor_evaluator(runner, settings, home)
    nothing, cursor = sensor(None)
    assert nothing == []  # everything is metered and billed
    gap = tmp_path / "events-0002.jsonl"
    gap.write_text(calls([3, 4], "b"))
    today = datetime.now(UTC).date()
    landing.land(home, gap, today)
    runner.run("ingest_job", partition_key=today.isoformat())

    requests, cursor = sensor(cursor)
    assert [(r.job_name, dict(r.tags)) for r in requests] == [
        (
            "metering_job",
            {
                "dagster/asset_partition_range_start": "2026-10-03",
                "dagster/asset_partition_range_end": "2026-10-04",
            },
        )
    ]
    assert sensor(cursor) == ([], cursor)
    runner.run("metering_job", tags=requests[0].tags)
    requests, cursor = sensor(cursor)
    assert [(r.job_name, r.partition_key) for r in requests] == [("billing_job", "2026-10-01")]
    assert sensor(cursor) == ([], cursor)
    runner.run("billing_job", partition_key="2026-10-01")
    filled = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert filled[0]["lines"][1]["quantity"] == "18"
