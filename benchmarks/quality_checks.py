"""Benchmark: what the data-quality checks cost (docs/benchmarks.md, "Data-quality checks").

Not a test. On a month of N events for K customers (monthly_billing.py's data, written
straight into `raw_events`), meters the month with the `metering_job` (daily usage and its
`usage_spikes` check) and with the same asset without checks, `--repeat` times each, then
runs each `raw_events` check alone on the landing day. Run:
`.venv/bin/python benchmarks/quality_checks.py --events 10000000`.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime

import dagster as dg
from monthly_billing import bench_home, quiet_billing, write_month

from billing_dagster.cli.runs import JobRunner
from billing_dagster.defs.metering.assets import metering_daily
from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.quality import event_checks
from billing_dagster.metering.window import metering_range_tags


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Each step's time in a run, from its event log."""
    starts, out = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            out[event.step_key] = record.timestamp - starts[event.step_key]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with bench_home(f"quality-{args.events}", args.customers) as bench:
        home = bench.path
        quiet_billing("--home", str(home), "catalog", "apply", str(bench.catalog))
        quiet_billing("--home", str(home), "usage", "--period", "2026-10")
        today = datetime.now(UTC).date()
        write_month(bench.client, bench.database, args.events, args.customers)
        print(f"{args.events} events generated; load {os.getloadavg()}", flush=True)
        runner = JobRunner(home)
        defs = runner.definitions
        tags = metering_range_tags(date(2026, 10, 1), date(2026, 10, 31))
        bare = dg.define_asset_job(
            "metering_without_checks",
            selection=dg.AssetSelection.assets(metering_daily),
        )
        bare_defs = dg.Definitions(assets=[metering_daily], jobs=[bare], resources=defs.resources)
        for attempt in range(args.repeat):
            for label, job in (
                ("with checks", defs.resolve_job_def("metering_job")),
                ("without checks", bare_defs.resolve_job_def("metering_without_checks")),
            ):
                load = os.getloadavg()[0]
                started = time.monotonic()
                result = job.execute_in_process(instance=runner.instance, tags=tags)
                seconds = time.monotonic() - started
                assert result.success
                steps = step_seconds(runner.instance, result.run_id)
                print(
                    f"{attempt} {label}: run {seconds:.1f}s, steps "
                    + ", ".join(f"{k} {v:.2f}s" for k, v in steps.items())
                    + f"; load {load:.2f}",
                    flush=True,
                )
        for check in event_checks:
            (key,) = check.check_keys
            job = dg.define_asset_job(
                "check_only", selection=dg.AssetSelection.checks(check), partitions_def=landing_days
            )
            d = dg.Definitions(asset_checks=[check], jobs=[job], resources=defs.resources)
            load = os.getloadavg()[0]
            started = time.monotonic()
            result = d.resolve_job_def("check_only").execute_in_process(
                tags={"dagster/partition": today.isoformat()},
                instance=dg.DagsterInstance.ephemeral(),
            )
            seconds = time.monotonic() - started
            (evaluation,) = result.get_asset_check_evaluations()
            print(
                f"{key.name}: {seconds:.2f}s (passed={evaluation.passed}); load {load:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
