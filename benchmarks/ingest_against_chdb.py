"""`billing ingest` of one file on a fresh home against chDB's own typed load of the same
file (issue 22: ours at least half its speed), in turn (ours, chDB, ours, chDB...).

    .venv/bin/python benchmarks/ingest_against_chdb.py --events 2000000 --runs 3

The file is the ingest benchmark's month (benchmarks/ingest_and_metering.py). Ours: a fresh
home, `billing catalog apply` (not timed), then `billing ingest FILE` as a user types it
(landing, the validating load, the data checks, the views' deployment and the metering of
the month), then `billing warehouse stop`. chDB: a fresh data directory in a process of its
own, and only its `INSERT INTO … SELECT * FROM file(FILE, 'JSONEachRow', <typed schema>)`
timed, into a MergeTree table ordered as `raw_events` is, `properties` kept as raw JSON
text: no validation, no quarantine, no deduplication, nothing metered. Prints each run and
the medians; everything lives under `benchmarks/data/ingest-chdb/` and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ingest_and_metering import CATALOG, DATA, fresh_month_file

from billing_dagster.warehouse.sql_text import quote_string

WORK = DATA / "ingest-chdb"
BILLING = str(Path(sys.executable).with_name("billing"))

_CHDB_LOAD = """
import sys, time, chdb
connection = chdb.connect(sys.argv[1])
connection.query('''CREATE TABLE events (
    event_id String, customer_id String, event_name String, timestamp DateTime64(3, 'UTC'),
    properties String, source Nullable(String), replaces Nullable(String), void Nullable(Bool)
) ENGINE = MergeTree ORDER BY (toDate(timestamp), customer_id, event_name, timestamp, event_id)''')
started = time.perf_counter()
connection.query("INSERT INTO events SELECT * FROM file(" + sys.argv[2] + ", 'JSONEachRow')")
seconds = time.perf_counter() - started
print(seconds, connection.query("SELECT count() FROM events", "CSV").bytes().decode().strip())
"""


def ours(events: Path, run: int) -> float:
    home = WORK / f"home-{run}"
    env = {**os.environ, "BILLING_HOME": str(home)}
    env.pop("CLICKHOUSE_HOST", None)
    try:
        subprocess.run(
            [BILLING, "catalog", "apply", str(CATALOG)], env=env, check=True, capture_output=True
        )
        started = time.perf_counter()
        subprocess.run([BILLING, "ingest", str(events)], env=env, check=True, capture_output=True)
        return time.perf_counter() - started
    finally:
        subprocess.run([BILLING, "warehouse", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def chdb_typed_load(events: Path, run: int) -> tuple[float, int]:
    data = WORK / f"chdb-{run}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHDB_LOAD, str(data), quote_string(str(events))],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds, rows = done.stdout.split()
        return float(seconds), int(rows)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    events = fresh_month_file(WORK, args.events)
    times: dict[str, list[float]] = {"ours": [], "chdb": []}
    try:
        for run in range(args.runs):
            load = os.getloadavg()[0]
            times["ours"].append(ours(events, run))
            seconds, rows = chdb_typed_load(events, run)
            times["chdb"].append(seconds)
            print(
                f"run {run + 1} (load {load:.1f}): billing ingest {times['ours'][-1]:.1f} s, "
                f"chDB typed load {seconds:.1f} s ({rows:,} rows)",
                flush=True,
            )
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"{name}: median {medians[name]:.1f} s = {args.events / medians[name] / 1000:,.0f} k "
            f"events/s (min {min(values):.1f}, max {max(values):.1f})"
        )
    print(f"ours' speed / chDB's (medians): {medians['chdb'] / medians['ours']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
