"""Helpers the pipeline tests share: the CLI in-process, a clean store between hypothesis
examples, and the backfill sensor evaluated against a test's instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from billing_dagster.cli.main import main as billing
from billing_dagster.cli.runs import JobRunner
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.warehouse.connection import ClickHouseSettings
from sensors.late_data_backfill import late_data_backfill


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`billing ARGS` in this process: exit code, stdout, stderr."""
    code = billing(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run(capsys, *args: str) -> str:
    """`billing ARGS`, which must succeed; its stdout."""
    code, out, err = cli(capsys, *args)
    assert code == 0, err[-2000:]
    return out


def start_afresh(client, database: str, home: Path) -> None:
    """Empty the stores and the landing zone between examples, which share one database and
    home (deployed dbt models stay, so an example costs seconds, not a minute)."""
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree'",
        parameters={"db": database},
    ).result_rows
    for (table,) in tables:
        if table != "dbt_deployments":
            client.command(f"TRUNCATE TABLE `{database}`.`{table}`")
    shutil.rmtree(home / "landing", ignore_errors=True)


def sensor_evaluator(runner: JobRunner, settings: ClickHouseSettings, home: Path):
    """The late-data sensor as the daemon would tick it: (run requests, cursor) per tick."""
    resource = ClickHouseResource.of(home, settings)

    def evaluate(cursor: str | None) -> tuple[list[dg.RunRequest], str]:
        with dg.build_sensor_context(
            instance=runner.instance, cursor=cursor, resources={"clickhouse": resource}
        ) as context:
            result = late_data_backfill(context)
        return list(result.run_requests or []), result.cursor

    return evaluate
