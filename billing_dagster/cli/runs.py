"""Launching the project's Dagster jobs from the command line, against the instance under
`--home`, so every CLI run shows in the Dagster UI like a scheduled or manual one."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from billing_dagster.defs.catalog import CATALOG_TABLES
from billing_dagster.defs.metering.ledger import stale_days
from billing_dagster.defs.metering.runs import BRIDGE_DAYS, day_ranges, metering_range_tags
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.invoicing.assemble import period_bounds, period_of
from billing_dagster.invoicing.finalization import carrier_period
from billing_dagster.invoicing.store import billed_periods, finalizations

_INSTANCE_CONFIG = """\
# The Dagster instance of this billing home; `make dev` shows its runs.
telemetry:
  enabled: false
"""


#: The code location of `workspace.yaml` and the repository `Definitions` make. The UI lists a
#: job's runs by this tag, which runs it launches itself carry; runs of the CLI carry it too.
REPOSITORY_LABEL = {".dagster/repository": "__repository__@billing"}


class JobFailed(RuntimeError):
    """A Dagster run failed; the message names the run and the step's error."""


def dagster_home(home: Path) -> Path:
    path = home / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_CONFIG)
    return path


class JobRunner:
    """Runs jobs in this process (no run-launcher start-up cost), recorded in the instance."""

    def __init__(self, home: Path):
        self.home = home
        os.environ["DAGSTER_HOME"] = str(dagster_home(home))
        os.environ["BILLING_HOME"] = str(home)
        self.instance = dg.DagsterInstance.get()

    @functools.cached_property
    def definitions(self) -> dg.Definitions:
        """Built when a job runs: loading the dbt project takes seconds that recording a
        catalog apply does not need."""
        from billing_dagster.definitions import build_definitions  # after BILLING_HOME is set

        return build_definitions()

    def run(self, job_name: str, partition_key: str | None = None, tags=None):
        job = self.definitions.resolve_job_def(job_name)
        # Dagster and dbt write progress to stdout; results own stdout, so send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = job.execute_in_process(
                # Steps' own messages; Dagster's DEBUG events stay in the instance (the UI).
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                instance=self.instance,
                partition_key=partition_key,
                tags={**REPOSITORY_LABEL, **(tags or {})},
                raise_on_error=False,
            )
        if not result.success:
            raise JobFailed(
                f"Dagster run {result.run_id} of {job_name} failed: {_first_failure(result)}"
            )
        return result

    def ingest(self, day: date) -> None:
        """Load the files landed on `day`. The job's schema check imports Great Expectations,
        which takes ~7 s: it is imported in a thread while the load waits for the warehouse."""
        self.definitions.resolve_job_def("ingest_job")  # the job's own imports come first
        import_in_background("great_expectations")
        self.run("ingest_job", partition_key=day.isoformat())

    def meter_days(self, first: date, last: date) -> None:
        self.run("metering_job", tags=metering_range_tags(first.isoformat(), last.isoformat()))

    def meter_stale_days(self, client, database: str, last: date) -> None:
        """Meter every day up to `last` that loads changed since it was last metered."""
        stale = stale_days(client, database, FIRST_EVENT_DATE, last)
        for low, high in day_ranges(stale, bridge=BRIDGE_DAYS):
            self.meter_days(low, high)

    def bill(self, client, database: str, period: str) -> None:
        """Meter the days that loads changed since they were metered (the period's and those
        of finalized periods it may adjust), then bill it (draft invoices)."""
        first, following = period_bounds(period)
        self.meter_stale_days(client, database, following - timedelta(days=1))
        self.run("billing_job", partition_key=first.isoformat())

    def finalize(self, client, database: str, period: str) -> None:
        """Bill the period from the data as it is now, then finalize it (one Dagster run)."""
        first, following = period_bounds(period)
        self.meter_stale_days(client, database, following - timedelta(days=1))
        self.run("finalize_job", partition_key=first.isoformat())

    def backfill(self, client, database: str, first: date, last: date) -> list[str]:
        """Re-meter every day of [first, last], then re-bill the billed periods they belong
        to (a finalized one through the open period that carries its adjustments).
        Returns the periods billed."""
        self.meter_days(first, last)
        touched = {period_of(first + timedelta(days=n)) for n in range((last - first).days + 1)}
        finalized = [f.period for f in finalizations(client, database)]
        billed = set(billed_periods(client, database))
        periods = {p for p in touched if p in billed and p not in finalized}
        carrier = carrier_period(finalized)
        if carrier and touched & set(finalized):
            periods.add(carrier)
        for period in sorted(periods):
            self.bill(client, database, period)
        return sorted(periods)

    def remeter_all(self, client, database: str) -> None:
        """Recompute daily usage for every day that has events (after a metric change)."""
        first, last = client.query(
            f"SELECT min(event_date), max(event_date) FROM `{database}`.raw_events"
        ).result_rows[0]
        if client.command(f"SELECT count() FROM `{database}`.raw_events"):
            self.meter_days(first, last)

    def failing_checks(self) -> list[dict]:
        """The asset checks whose latest evaluation did not pass, from this instance."""
        failing = []
        graph = self.definitions.resolve_asset_graph()
        for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
            record = self.instance.get_latest_asset_check_evaluation_record(key)
            evaluation = record.evaluation if record else None
            if evaluation and not evaluation.passed:
                failing.append(
                    {
                        "check": key.to_user_string(),
                        "severity": evaluation.severity.value,
                        "partition": record.partition,
                        "description": evaluation.description,
                    }
                )
        return failing

    def report_catalog_applied(self, version: int) -> None:
        """The catalog tables are assets; an apply is their materialization in the UI."""
        for table in CATALOG_TABLES:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(table, metadata={"catalog_version": version})
            )

    def ensure_models_deployed(self, client, database: str, meter_until: date | None = None):
        """Create or update the dbt views when the dbt project changed since last time, and
        meter the stale days up to `meter_until`, if given.

        The period views read the daily usage table, which the first metering creates: the
        metering that is due anyway creates it, else a metering of today does."""
        from billing_dagster.defs.metering.project import project_digest  # imports dbt

        digest = project_digest()
        deployed = client.command(
            f"SELECT argMax(manifest_sha256, deployed_at) FROM `{database}`.dbt_deployments"
        )
        if deployed == digest:
            if meter_until:
                self.meter_stale_days(client, database, meter_until)
            return
        self.run("metering_views_job")
        if meter_until:
            self.meter_stale_days(client, database, meter_until)
        if not client.command(f"EXISTS TABLE `{database}`.fct_metric_usage_daily"):
            today = datetime.now(UTC).date()
            self.meter_days(today, today)
        self.run("period_usage_job")
        self.run("finance_views_job")
        client.insert(
            f"`{database}`.dbt_deployments",
            [[digest, datetime.now(UTC)]],
            column_names=["manifest_sha256", "deployed_at"],
        )


def import_in_background(module: str) -> None:
    """Import `module` in a thread, for a step that needs it later in this process: a load
    leaves the process idle, waiting for the warehouse, for most of its time."""
    threading.Thread(
        target=importlib.import_module, args=(module,), name=f"import {module}", daemon=True
    ).start()


def _first_failure(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return "see the run's logs in the Dagster UI"
