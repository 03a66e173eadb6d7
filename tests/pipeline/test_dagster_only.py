"""Dagster alone is enough: with the daemon's schedules and sensors (ticked here as the
daemon would), a catalog applied and files placed in the landing zone become the same
invoices and credit notes, byte for byte, as through the `billing` commands.

Two homes and two databases: one driven by the CLI, one by Dagster only. Both see a month of
events, the month billed and finalized, then late events of that month, billed as an
adjustment with the next one.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from billing_dagster.cli.runs import dagster_home
from billing_dagster.definitions import build_definitions
from billing_dagster.ingest import landing
from billing_dagster.warehouse.connection import ClickHouseSettings
from tests.catalogs import CONTRACT_EXAMPLE, contract_example_events
from tests.support import run

TODAY = datetime.now(UTC).date()


def events(name: str, days: list[str], prefix: str, **properties) -> str:
    lines = [
        {"event_id": f"{prefix}-{day}", "customer_id": "acme", "event_name": name,
         "timestamp": f"{day}T08:30:00Z", "properties": properties}
        for day in days
    ]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines)


class Daemon:
    """The schedules and sensors of the definitions, evaluated as the daemon would evaluate
    them, and the runs they request executed in this process against the home's instance."""

    def __init__(self, home: Path, monkeypatch):
        self.defs = build_definitions()
        # The home's own instance, as `dagster dev` and the daemon would use it.
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(home)))
        self.instance = dg.DagsterInstance.get()
        self.cursors: dict[str, str | None] = {}
        self.launched: list[str] = []

    def schedule(self, name: str, at: datetime) -> None:
        schedule = self.defs.resolve_schedule_def(name)
        with dg.build_schedule_context(
            instance=self.instance, scheduled_execution_time=at, resources=self.defs.resources
        ) as context:
            request = schedule(context)
        self.execute(schedule.job_name, request)

    def sensors_until_quiet(self) -> None:
        """Tick every sensor, run what they request, until no sensor requests anything."""
        while True:
            requested = 0
            for sensor in self.defs.sensors:
                with dg.build_sensor_context(
                    instance=self.instance,
                    cursor=self.cursors.get(sensor.name),
                    repository_def=self.defs.get_repository_def(),
                    resources=self.defs.resources,
                ) as context:
                    result = sensor(context)
                if isinstance(result, dg.SkipReason):
                    continue
                if isinstance(result, dg.RunRequest):
                    result = dg.SensorResult(run_requests=[result])
                self.cursors[sensor.name] = result.cursor or self.cursors.get(sensor.name)
                for request in result.run_requests or []:
                    self.execute(request.job_name or sensor.job_name, request)
                    requested += 1
            if not requested:
                return

    def execute(self, job_name: str, request: dg.RunRequest) -> None:
        result = self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            tags=request.tags,
            raise_on_error=True,
        )
        assert result.success
        self.launched.append(f"{job_name} {request.partition_key or ''}".strip())


def use(monkeypatch, home: Path, database: str) -> None:
    monkeypatch.setenv("BILLING_HOME", str(home))
    monkeypatch.setenv("CLICKHOUSE_DATABASE", database)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def documents(capsys, *periods: str) -> str:
    """What finance reads: the invoices and credit notes of each period, as JSON text."""
    return "".join(
        run(capsys, "invoices", "--period", period, "--format", "json")
        + run(capsys, "credit-notes", "--period", period, "--format", "json")
        for period in periods
    )


def test_a_dagster_only_deployment_bills_byte_for_byte_like_the_cli(
    warehouse, database, home, tmp_path, capsys, monkeypatch
):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    month = tmp_path / "october-and-november.jsonl"
    month.write_text(contract_example_events() + events("api_request", ["2026-11-02"], "nov"))
    late = tmp_path / "late-october.jsonl"
    late_days = ["2026-10-28", "2026-10-29", "2026-10-30"]
    late.write_text(events("completion", late_days, "late", model="gpt-large", tokens=10000000))

    # The CLI path, in a home and database of its own.
    cli_home, cli_database = tmp_path / "cli-home", f"t_{uuid.uuid4().hex[:12]}"
    use(monkeypatch, cli_home, cli_database)
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(month))
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    run(capsys, "ingest", str(late))
    run(capsys, "bill", "--period", "2026-11")
    expected = documents(capsys, "2026-10", "2026-11")
    ClickHouseSettings.embedded(warehouse).client().command(f"DROP DATABASE `{cli_database}` SYNC")

    # Dagster only: the catalog applied, files placed in the landing zone, nothing else.
    use(monkeypatch, home, database)
    run(capsys, "catalog", "apply", str(catalog))
    daemon = Daemon(home, monkeypatch)
    landing.land(home, month, TODAY)
    daemon.schedule("landing_ingest_schedule", datetime.now(UTC))
    daemon.sensors_until_quiet()
    daemon.schedule("monthly_billing_schedule", datetime(2026, 11, 1, 2, tzinfo=UTC))
    daemon.sensors_until_quiet()
    daemon.schedule("finalization_schedule", datetime(2026, 11, 4, 3, tzinfo=UTC))
    landing.land(home, late, TODAY)
    daemon.schedule("landing_ingest_schedule", datetime.now(UTC))
    daemon.sensors_until_quiet()

    assert daemon.launched == [
        f"ingest_job {TODAY}",
        "models_job",  # the dbt views, before anything is metered
        "metering_job",  # October 1-12, October 20, November 2: runs of consecutive days
        "metering_job",
        "metering_job",
        "billing_job 2026-10-01",
        "finalize_job 2026-10-01",
        f"ingest_job {TODAY}",
        "metering_job",  # October 28-30
        "billing_job 2026-11-01",  # November carries October's late calls
    ]
    assert documents(capsys, "2026-10", "2026-11") == expected
    # 30,000,000 late tokens at 0.00003: October's charges become 954.60, less 10.00 of
    # discount, plus 20 % tax (188.92) is 1,133.52, of which the 500.00 grant pays 500.00;
    # October was finalized at 0.00, so November carries 633.52 on top of its own 108.00.
    [november] = json.loads(run(capsys, "invoices", "--period", "2026-11", "--format", "json"))
    assert (november["adjustments"], november["total"]) == ("633.52", "741.52")
