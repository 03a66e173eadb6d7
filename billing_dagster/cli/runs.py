"""Launching the project's Dagster jobs from the command line, against the instance under
`--home`, so every CLI run shows in the Dagster UI like a scheduled or manual one."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from billing_dagster.catalog.tables import CATALOG_TABLES
from billing_dagster.invoicing.store import billed_periods, finalizations
from billing_dagster.metering.backfill import metering_runs, periods_to_rebill, ranges_to_meter
from billing_dagster.metering.days import BRIDGE_DAYS
from billing_dagster.metering.dbt_project import DAILY_MODEL, models_deployed
from billing_dagster.metering.local_days import local_day_slack, periods_of_utc_days
from billing_dagster.metering.window import metering_range_tags
from billing_dagster.periods import partition_key, period_bounds
from billing_dagster.settings import Settings

_INSTANCE_CONFIG = """\
# The Dagster instance of this billing home; `make dev` shows its runs.
telemetry:
  enabled: false
# Dagster's SQLite event log, its connections kept open (billing_dagster/event_log_storage.py).
event_log_storage:
  module: billing_dagster.event_log_storage
  class: KeptOpenSqliteEventLogStorage
  config:
    dagster_home:
      env: DAGSTER_HOME
"""
#: The configuration homes were given before it: replaced, as nobody edited it.
_EARLIER_INSTANCE_CONFIG = """\
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
    if not config.exists() or config.read_text() == _EARLIER_INSTANCE_CONFIG:
        written = config.with_name(f".dagster.yaml.{os.getpid()}")
        written.write_text(_INSTANCE_CONFIG)
        os.replace(written, config)  # a concurrent command reads the old file or the new
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
        return warm_definitions(self.home)

    def run(self, job_name: str, partition_key: str | None = None, tags=None, ops=None, only=None):
        """`ops`: the op config of a job that takes one (`{"erase": {"config": {...}}}`);
        `only`: the asset keys to materialize, when not all of the job's."""
        job = self.definitions.resolve_job_def(job_name)
        # Dagster and dbt write progress to stdout; results own stdout, so send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = job.execute_in_process(
                # Steps' own messages; Dagster's DEBUG events stay in the instance (the UI).
                run_config={
                    "loggers": {"console": {"config": {"log_level": "INFO"}}},
                    **({"ops": ops} if ops else {}),
                },
                instance=self.instance,
                partition_key=partition_key,
                asset_selection=only,
                tags={**REPOSITORY_LABEL, **(tags or {})},
                raise_on_error=False,
            )
        if not result.success:
            raise JobFailed(
                f"Dagster run {result.run_id} of {job_name} failed: {_first_failure(result)}"
            )
        return result

    def ingest(self, day: date) -> None:
        """Load the files landed on `day`. The job's schema check imports Great Expectations
        when it runs, in this thread (a worker has it imported already): imported in a
        thread of its own during the load, it raced the run's own first uses of SQLAlchemy,
        which both import, and failed the run on a module half imported."""
        self.run("ingest_job", partition_key=day.isoformat())

    def meter_days(self, first: date, last: date, alerts: bool = True) -> None:
        """Meter [first, last]; without `alerts`, leave the usage alerts to a later run of
        the same command, so that usage metered in several runs is evaluated once, whole:
        half re-metered, a period may seem below a threshold it is above (a resolved alert
        is not triggered again in its period)."""
        only = None if alerts else [dg.AssetKey(DAILY_MODEL)]
        self.run("metering_job", tags=metering_range_tags(first, last), only=only)

    def meter_in_runs(self, runs: list[tuple[date, date]]) -> None:
        """Meter each range of `runs`, the usage alerts after the last."""
        for number, (low, high) in enumerate(runs, 1):
            self.meter_days(low, high, alerts=number == len(runs))

    def meter_stale_days(self, client, database: str, last: date) -> None:
        """Meter every day up to `last` that loads or a metric change made stale."""
        self.meter_in_runs(ranges_to_meter(client, database, last, bridge=BRIDGE_DAYS))

    def bill(self, client, database: str, period: str) -> None:
        """Meter the days that loads changed since they were metered (the period's and those
        of finalized periods it may adjust), then bill it (draft invoices)."""
        self.meter_stale_days(client, database, self._last_utc_day(client, database, period))
        self.run("billing_job", partition_key=partition_key(period))

    def finalize(self, client, database: str, period: str) -> None:
        """Bill the period from the data as it is now, then finalize it (one Dagster run)."""
        self.meter_stale_days(client, database, self._last_utc_day(client, database, period))
        self.run("finalize_job", partition_key=partition_key(period))

    @staticmethod
    def _last_utc_day(client, database: str, period: str) -> date:
        """The last UTC day whose events may fall in `period` (local days, docs/invoicing.md)."""
        slack = local_day_slack(client, database)
        return period_bounds(period)[1] - timedelta(days=1) + timedelta(days=slack)

    def backfill(self, client, database: str, first: date, last: date) -> list[str]:
        """Re-meter every day of [first, last], then re-bill the billed periods they belong
        to (a finalized one through the open period that carries its adjustments).
        Returns the periods billed."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        self.meter_in_runs(metering_runs(client, database, days))
        touched = periods_of_utc_days(days, local_day_slack(client, database))
        finalized = [f.period for f in finalizations(client, database)]
        periods = sorted(periods_to_rebill(billed_periods(client, database), finalized, touched))
        for period in periods:
            self.bill(client, database, period)
        return periods

    def failing_checks(self) -> list[dict]:
        """The asset checks whose latest evaluation did not pass, from this instance."""
        from billing_dagster.defs.quality.failing import failing_checks

        graph = self.definitions.resolve_asset_graph()
        return failing_checks(self.instance, graph.asset_check_keys)

    def report_catalog_applied(self, version: int) -> None:
        """The catalog tables are assets; an apply is their materialization in the UI."""
        for table in CATALOG_TABLES:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(table, metadata={"catalog_version": version})
            )

    def ensure_models_deployed(self, client, database: str, meter_until: date | None = None):
        """Deploy the dbt views when the dbt project changed since they were deployed (what
        the `models_deployment` sensor does), then meter the stale days up to `meter_until`,
        if given."""
        if not models_deployed(client, database):
            self.run("models_job")
        if meter_until:
            self.meter_stale_days(client, database, meter_until)


def warm_definitions(home: Path) -> dg.Definitions:
    """The home's definitions with every job resolved, built once per process, home and
    settings (what they are built from): a worker builds them before it forks commands
    (worker.py)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home(home))
    os.environ["BILLING_HOME"] = str(home)
    return _definitions(home, Settings.from_env())


@functools.lru_cache(maxsize=1)  # one home per process: the worker's, or the command's
def _definitions(home: Path, settings: Settings) -> dg.Definitions:
    from billing_dagster.definitions import build_definitions  # after BILLING_HOME is set

    definitions = build_definitions()
    definitions.resolve_all_job_defs()  # each job bound to its assets and checks
    return definitions


def _first_failure(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return "see the run's logs in the Dagster UI"
