"""Metering a day replaces that day's usage and leaves every other day as it was.

Regression: the window once lived in a view, which is created only once, so a run for one
day re-inserted every other day's usage and multiplied it.
"""

from __future__ import annotations

import json
from datetime import date

import dagster as dg

from billing_dagster.catalog.model import Metric
from billing_dagster.cli.main import main as billing
from billing_dagster.metering import backfill
from tests.catalogs import catalog_of, store


def events_on(day: str, *keys: str) -> str:
    lines = [
        {"event_id": key, "customer_id": "a", "event_name": "api", "timestamp": f"{day}T10:00:00Z"}
        for key in keys
    ]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def test_each_load_re_meters_only_its_days(client, database, home, tmp_path, capsys):
    catalog = catalog_of((Metric("calls", "api", "count"),), {"a": [(date(2026, 1, 1), None)]})
    store(client, database, catalog)
    for number, (day, keys) in enumerate(
        [("2026-10-01", ("e1", "e2")), ("2026-10-02", ("e3",)), ("2026-10-01", ("e4",))]
    ):
        path = tmp_path / f"load{number}.jsonl"
        path.write_text(events_on(day, *keys))
        assert billing(["ingest", str(path)]) == 0, capsys.readouterr().err

    capsys.readouterr()
    assert billing(["usage", "--period", "2026-10", "--format", "json"]) == 0
    usage = json.loads(capsys.readouterr().out)
    assert [(row["metric"], row["quantity"]) for row in usage] == [("calls", "4")]
    rows = client.query(
        f"SELECT usage_date, event_count FROM `{database}`.fct_metric_usage_daily "
        f"ORDER BY usage_date"
    ).result_rows
    assert rows == [(date(2026, 10, 1), 3), (date(2026, 10, 2), 1)]
    # Each metering run keeps its log and compiled SQL, not dbt's JSON artifacts.
    runs = sorted((home / "dbt").glob("metering_daily-*"))
    assert len(runs) == 3
    for run in runs:
        assert sorted(p.name for p in run.iterdir()) == [
            "compiled",
            "dbt.log",
            "graph_summary.json",
            "run",
        ]


def test_a_range_of_many_events_is_metered_in_runs_and_its_alerts_evaluated_once(
    client, database, home, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(backfill, "EVENTS_PER_RUN", 2)
    catalog = catalog_of((Metric("calls", "api", "count"),), {"a": [(date(2026, 1, 1), None)]})
    store(client, database, catalog)
    path = tmp_path / "month.jsonl"
    path.write_text(
        events_on("2026-10-01", "e1", "e2")
        + events_on("2026-10-02", "e3")
        + events_on("2026-10-03", "e4", "e5")
    )
    assert billing(["ingest", str(path)]) == 0, capsys.readouterr().err
    instance = dg.DagsterInstance.get()
    runs = instance.get_run_records(dg.RunsFilter(job_name="metering_job"), ascending=True)
    assert [dict(r.dagster_run.tags)["dagster/asset_partition_range_start"] for r in runs] == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
    ]
    materialized = [
        sorted(
            {
                entry.dagster_event.asset_key.to_user_string()
                for entry in instance.all_logs(
                    r.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                )
            }
        )
        for r in runs
    ]
    assert materialized == [
        ["fct_metric_usage_daily"],
        ["fct_metric_usage_daily"],
        ["fct_metric_usage_daily", "usage_alerts"],
    ]
    capsys.readouterr()
    assert billing(["usage", "--period", "2026-10", "--format", "json"]) == 0
    usage = json.loads(capsys.readouterr().out)
    assert [(row["metric"], row["quantity"]) for row in usage] == [("calls", "5")]
