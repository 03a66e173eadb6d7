"""What a `billing` command costs beyond its work (issue 22): each command of a month's
billing, as a user types it, on a billing home of 10 customers and a few events a run, run
through the home's warm worker and in a process of its own (`BILLING_WORKER=off`), in turn.

    .venv/bin/python benchmarks/command_overhead.py --runs 5

First the four commands on a fresh home (catalog apply, ingest, bill, invoices: the first
one starts the worker); then each command `--runs` times both ways, the worker's way first:
an ingest of a new 10-line file, a bill, the invoices, the usage and the status. Prints each
run's seconds and, per command and way, the median, minimum and maximum. Everything lives
under `benchmarks/data/command-overhead/` (git-ignored) and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from billing_dagster.cli.worker import logged_commands

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "data" / "command-overhead"
BILLING = str(Path(sys.executable).with_name("billing"))
PERIOD = "2026-10"
CUSTOMERS = [f"c{n}" for n in range(10)]
CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{metric: calls, model: per_unit, unit_price: "0.01"}]
customers:
"""


def events_file(run: int) -> Path:
    path = WORK / f"events-{run}.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"r{run}-{n}",
                    "customer_id": CUSTOMERS[n],
                    "event_name": "api_request",
                    "timestamp": f"2026-10-{n + 1:02d}T12:00:00Z",
                }
            )
            + "\n"
            for n in range(10)
        )
    )
    return path


def timed(home: Path, worker: bool, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "BILLING_"))}
    env |= {"BILLING_HOME": str(home)} | ({} if worker else {"BILLING_WORKER": "off"})
    start = time.perf_counter()
    done = subprocess.run([BILLING, *args], env=env, cwd=WORK, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"billing {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    catalog = WORK / "catalog.yaml"
    entries = "".join(
        f"  - {{id: {c}, name: {c}, subscriptions: [{{plan: pro, start: 2026-01-01}}]}}\n"
        for c in CUSTOMERS
    )
    catalog.write_text(CATALOG + entries)
    try:
        for worker in (True, False):
            home = WORK / f"fresh-{'worker' if worker else 'own-process'}"
            steps = [
                ("catalog", "apply", str(catalog)),
                ("ingest", str(events_file(0))),
                ("bill", "--period", PERIOD),
                ("invoices", "--period", PERIOD, "--format", "json"),
            ]
            seconds = [timed(home, worker, *step) for step in steps]
            way = "worker" if worker else "own process"
            figures = ", ".join(f"{s[0]} {t:.2f} s" for s, t in zip(steps, seconds, strict=True))
            print(f"fresh home, {way}: {sum(seconds):.2f} s ({figures})", flush=True)
            if worker:
                served = ", ".join(command for _pid, command in logged_commands(home))
                print(f"  run by the worker: {served}", flush=True)
        home = WORK / "fresh-worker"
        commands = {
            "ingest": lambda run: ("ingest", str(events_file(run))),
            "bill": lambda run: ("bill", "--period", PERIOD),
            "invoices": lambda run: ("invoices", "--period", PERIOD, "--format", "json"),
            "usage": lambda run: ("usage", "--period", PERIOD, "--format", "json"),
            "status": lambda run: ("status",),
        }
        figures: dict[tuple[str, bool], list[float]] = {}
        for run in range(1, args.runs + 1):
            for name, command in commands.items():
                for worker in (True, False):
                    # A new file for each ingest: each one loads and meters.
                    step = command(run * 2 + (0 if worker else 1))
                    figures.setdefault((name, worker), []).append(timed(home, worker, *step))
            print(f"run {run} of {args.runs} done", flush=True)
        print("\n| command | worker: median (min–max) | own process: median (min–max) |")
        print("|---|--:|--:|")
        for name in commands:
            cells = [_summary(figures[(name, worker)]) for worker in (True, False)]
            print(f"| `{name}` | {cells[0]} | {cells[1]} |")
    finally:
        for home in WORK.glob("fresh-*"):
            timed(home, False, "warehouse", "stop")
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


def _summary(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.2f} s ({min(seconds):.2f}–{max(seconds):.2f})"


if __name__ == "__main__":
    sys.exit(main())
