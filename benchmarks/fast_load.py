"""The loader's fast path against its exact path (issue 22): `EventLoader.load` of one file
of N generated events, each path in turn (exact, fast, exact, fast...), each load into a
fresh database of one embedded warehouse.

    .venv/bin/python benchmarks/fast_load.py --events 2000000 --runs 3

The file is the ingest benchmark's month of events (benchmarks/ingest_and_metering.py:
resends, conflicts, corrections, an unknown customer). Prints each load's seconds, the
warehouse server's CPU seconds (user + system: less sensitive than wall time to the other
work on a shared machine) and peak resident memory, the 1-minute load average before it,
its counts and slowest statements, and the medians per path; exits 1 if the two paths'
counts differ. Everything lives under `benchmarks/data/fast-load/` (git-ignored) and is
removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import psutil
from ingest_and_metering import CATALOG, DATA, fresh_month_file
from monthly_billing import peak_rss_mb

from billing_dagster.catalog.store import apply_catalog
from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.ingest.loader import EventLoader
from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema

WORK = DATA / "fast-load"


def load_once(endpoint: embedded.Endpoint, events: Path, fast: bool, run: int) -> dict:
    """One load into a database of its own, timed; the database is dropped after."""
    database = f"fast_load_{'fast' if fast else 'exact'}_{run}"
    settings = ClickHouseSettings.embedded(endpoint, database)
    client = settings.client()
    ensure_schema(client, database)
    version = apply_catalog(
        client, database, validate_catalog_file(CATALOG), CATALOG.name, ""
    ).version
    statements = timed_statements(client)
    loader = EventLoader(client, database, settings.file_path, fast_path=fast)
    server = psutil.Process(endpoint.pid)
    Path(f"/proc/{endpoint.pid}/clear_refs").write_text("5")  # its peak RSS starts over
    load_average = os.getloadavg()[0]
    cpu_before = sum(server.cpu_times()[:2])
    started = time.perf_counter()
    result = loader.load(events, "bench", events.name, date(2026, 11, 1), version)
    seconds = time.perf_counter() - started
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    peak_mib = round(peak_rss_mb(endpoint.pid))
    client.command(f"DROP DATABASE `{database}` SYNC")
    counts = (result.lines, result.accepted, result.duplicates, result.conflicts)
    slowest = sorted(statements, reverse=True)[:3]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "load": load_average,
        "peak_mib": peak_mib,
        "counts": (*counts, result.quarantined),
        "slowest": ", ".join(f"{label} {spent:.1f} s" for spent, label in slowest),
    }


def timed_statements(client) -> list[tuple[float, str]]:
    """Time every statement `client` runs from now on: (seconds, its first words)."""
    spent: list[tuple[float, str]] = []
    command = client.command

    def timed(sql, *args, **kwargs):
        started = time.perf_counter()
        try:
            return command(sql, *args, **kwargs)
        finally:
            label = " ".join(sql.split()[:4])[:48]
            spent.append((time.perf_counter() - started, label))

    client.command = timed
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3, help="loads per path")
    args = parser.parse_args()
    events = fresh_month_file(WORK, args.events)
    endpoint = embedded.ensure_running(WORK / "home", idle_timeout_s=0, files_root=WORK)
    times: dict[str, list[float]] = {"exact": [], "fast": []}
    cpu: dict[str, list[float]] = {"exact": [], "fast": []}
    counts: dict[str, set] = {"exact": set(), "fast": set()}
    try:
        for run in range(args.runs):
            for fast in (False, True):
                path = "fast" if fast else "exact"
                measured = load_once(endpoint, events, fast, run)
                times[path].append(measured["seconds"])
                cpu[path].append(measured["cpu"])
                counts[path].add(measured["counts"])
                print(
                    f"run {run + 1} {path:5}: {measured['seconds']:6.1f} s, server CPU "
                    f"{measured['cpu']:.1f} s, server peak {measured['peak_mib']:,} MiB "
                    f"(load {measured['load']:.1f})\n"
                    f"    lines, accepted, duplicates, conflicts, quarantined = "
                    f"{measured['counts']}\n    slowest: {measured['slowest']}",
                    flush=True,
                )
    finally:
        embedded.stop(WORK / "home")
        shutil.rmtree(WORK, ignore_errors=True)
    for path, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"{path:5}: median {median:.1f} s = {args.events / median / 1000:,.0f} k events/s "
            f"(min {min(seconds):.1f}, max {max(seconds):.1f}); server CPU median "
            f"{statistics.median(cpu[path]):.1f} s"
        )
    ratio = statistics.median(times["fast"]) / statistics.median(times["exact"])
    print(f"fast / exact (medians): {ratio:.2f}")
    same = counts["fast"] == counts["exact"] and len(counts["fast"]) == 1
    print("counts identical on both paths" if same else f"COUNTS DIFFER: {counts}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
