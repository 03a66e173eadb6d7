"""Ours against PostgreSQL, pandas and DuckDB on the same job (issue 6): `make bench-compare`.

`python -m benchmarks.compare --events N [--customers K] [--scaling 1000000,3000000]`

For each N: one month of N events for K customers and their catalog (`workload.py`), then
each engine's job in a process of its own (`engine.py`: load the JSONL file, deduplicate,
apply corrections, meter, rate, invoice totals per customer), timed end to end, its memory
sampled (the sum of the proportional set sizes of all its processes, servers included) and
killed when it runs out of time or memory, which is then what the table says. Every
engine's totals must equal ours to the cent for every customer, or no comparison is
printed. Output: a Markdown table (stdout and docs/benchmarks.md), benchmarks/results.json
and, with --scaling, the curve of time against N (docs/scaling.png).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import psutil

from benchmarks.compare import workload

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results.json"
DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "scaling.png"
BEGIN, END = "<!-- bench-compare:begin -->", "<!-- bench-compare:end -->"
ENGINES = ["ours", "postgres", "pandas", "duckdb"]
MIB = 1 << 20


class Sampler(threading.Thread):
    """Peak memory of an engine: its process tree, plus processes that left the tree but
    name its work directory (the warehouse server, the PostgreSQL postmaster) and theirs."""

    def __init__(self, root: psutil.Process, work: Path, interval_s: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.work, self.interval_s = root, str(work), interval_s
        self.total = self.python = self.server = 0  # bytes
        self.done = threading.Event()

    def processes(self) -> list[psutil.Process]:
        found = {self.root.pid: self.root}
        with contextlib.suppress(psutil.Error):
            found |= {p.pid: p for p in self.root.children(recursive=True)}
        for process in psutil.process_iter(["cmdline"]):
            if self.work in " ".join(process.info["cmdline"] or []):
                found[process.pid] = process
                with contextlib.suppress(psutil.Error):
                    found |= {c.pid: c for c in process.children(recursive=True)}
        return list(found.values())

    def run(self) -> None:
        while not self.done.wait(self.interval_s):
            total = 0
            for process in self.processes():
                try:
                    memory = process.memory_full_info()
                    command = " ".join(process.cmdline())
                except psutil.Error:
                    continue
                total += memory.pss
                if "billing_dagster.warehouse.server" in command:
                    self.server = max(self.server, memory.rss)
                elif "python" in command or "billing" in command or "dbt" in command:
                    self.python = max(self.python, memory.rss)
            self.total = max(self.total, total)


def run_engine(name, events, catalog, work, timeout_s, memory_limit, profile) -> dict:
    work.mkdir(parents=True)
    result = work / "result.json"
    command = [sys.executable, "-m", "benchmarks.compare.engine", name]
    command += [str(events), str(catalog), str(work), str(result)]
    command += ["--profile"] if profile else []
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    sampler = Sampler(psutil.Process(process.pid), work)
    sampler.start()
    status = "ok"
    while process.poll() is None:
        elapsed = time.perf_counter() - started
        if elapsed > timeout_s or sampler.total > memory_limit:
            status = "timeout" if elapsed > timeout_s else "out of memory"
            stop(process)
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if status == "ok" and process.returncode != 0:
        status = f"failed (exit {process.returncode})"
    figures = {
        "status": status,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(sampler.total / MIB),
        "peak_python_process_rss_mb": round(sampler.python / MIB),
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if name == "ours":
        figures["peak_warehouse_server_rss_mb"] = round(sampler.server / MIB)
    if status == "ok":
        output = json.loads(result.read_text())
        figures["steps"] = output["steps"]
        figures["totals"] = {c: Decimal(t) for c, t in output["totals"].items()}
    return figures


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (the engine stops its servers in `finally`), then SIGKILL of its session."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def leftovers(work: Path) -> None:
    """Whatever a killed engine could not stop: PostgreSQL, the warehouse, their files."""
    if (work / "pg" / "postmaster.pid").exists():
        from benchmarks.compare.postgres_engine import BIN

        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, BIN / "pg_ctl", "-D", work / "pg", "-m", "immediate", "stop"])
    if (work / "home" / "warehouse" / "server.json").exists():
        from billing_dagster.warehouse import embedded

        embedded.stop(work / "home")
    shutil.rmtree(work, ignore_errors=True)


def measure(n: int, args: argparse.Namespace, scratch: Path) -> dict:
    events, catalog = scratch / f"events-{n}.jsonl", scratch / "catalog.yaml"
    catalog.write_text(workload.catalog_text(args.customers))
    print(f"[compare] generating {n:,} events for {args.customers:,} customers", flush=True)
    started = time.perf_counter()
    workload.generate(events, n, args.customers)
    print(f"[compare] generated in {time.perf_counter() - started:.1f} s", flush=True)
    engines = {}
    for name in args.engines:
        print(f"[compare] N = {n:,}: {name} (load {os.getloadavg()[0]:.2f})", flush=True)
        work = scratch / name
        try:
            engines[name] = run_engine(
                name,
                events,
                catalog,
                work,
                args.timeout,
                args.memory_limit_gib * (1 << 30),
                args.profile and name == "ours",
            )
        finally:
            if args.profile and name == "ours":
                keep = ROOT / "benchmarks" / "data" / f"profile-{n}"
                shutil.rmtree(keep, ignore_errors=True)
                keep.mkdir(parents=True)
                for report in [*work.glob("profile-*.txt"), *work.glob("query_log.txt")]:
                    shutil.copy(report, keep)
            leftovers(work)
        e = engines[name]
        print(f"[compare] {name}: {e['status']}, {e['seconds']:.1f} s, {e['peak_rss_mb']} MiB")
    events.unlink()
    check_totals(engines)
    return {"n": n, "customers": args.customers, "engines": engines}


def check_totals(engines: dict) -> None:
    """Each finished peer's totals against ours, customer by customer, to the cent."""
    ours = engines.get("ours", {}).get("totals")
    for figures in engines.values():
        if "totals" not in figures:
            figures["totals_match"] = None
            continue
        if ours is None:
            figures["totals_match"] = False
            continue
        theirs = figures["totals"]
        wrong = sorted(c for c in ours.keys() | theirs.keys() if ours.get(c) != theirs.get(c))
        figures["totals_match"] = not wrong
        figures["mismatches"] = [(c, str(ours.get(c)), str(theirs.get(c))) for c in wrong[:10]]
        figures["customers_billed"] = len(theirs)
        figures["sum_of_totals"] = str(sum(theirs.values(), Decimal(0)))


def table(run: dict) -> str:
    n, engines = run["n"], run["engines"]
    ours = engines.get("ours", {})
    lines = [
        "| engine | wall time | events/s | peak RSS (all its processes) | ours ÷ peer (time) "
        "| totals = ours | load (1 min) before → after |",
        "|---|--:|--:|--:|--:|:-:|---|",
    ]
    for name, e in engines.items():
        done = e["status"] == "ok"
        ratio = ours["seconds"] / e["seconds"] if done and ours.get("status") == "ok" else None
        time_text = f"{e['seconds']:.1f} s" if done else f"{e['status']} after {e['seconds']:.0f} s"
        rate = f"{n / e['seconds']:,.0f}" if done else "-"
        lines.append(
            f"| {name} | {time_text} | {rate} "
            f"| {e['peak_rss_mb']:,} MiB | {f'{ratio:.2f}' if ratio else '-'} "
            f"| {'yes' if e.get('totals_match') else '-'} "
            f"| {e['load_1min'][0]:.2f} → {e['load_1min'][1]:.2f} |"
        )
    return "\n".join(lines)


def section(runs: list[dict]) -> str:
    parts = []
    for run in runs:
        ours = run["engines"].get("ours", {})
        parts += [
            f"N = {run['n']:,} events, {run['customers']:,} customers; ours: Python processes "
            f"≤ {ours.get('peak_python_process_rss_mb', 0):,} MiB each, warehouse server "
            f"{ours.get('peak_warehouse_server_rss_mb', 0):,} MiB.",
            "",
            table(run),
            "",
        ]
    return "\n".join(parts).rstrip()


def write_docs(text: str) -> None:
    document = DOCS.read_text()
    if BEGIN in document:
        head, rest = document.split(BEGIN, 1)
        document = head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1]
    else:
        document += f"\n## Compared with PostgreSQL, pandas and DuckDB\n\n{BEGIN}\n{text}\n{END}\n"
    DOCS.write_text(document)


def plot(runs: list[dict]) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for name in ENGINES:
        points = [(r["n"], r["engines"][name]) for r in runs if name in r["engines"]]
        done = [(n, e["seconds"]) for n, e in points if e["status"] == "ok"]
        if done:
            axes.plot(*zip(*done, strict=True), marker="o", label=name)
        for n, e in points:
            if e["status"] != "ok":
                axes.scatter([n], [e["seconds"]], marker="x", color="black")
                label = f"{name}: {e['status']} after {e['seconds']:.0f} s"
                axes.annotate(
                    label, (n, e["seconds"]), (-8, -12), textcoords="offset points", ha="right"
                )
    axes.set_xscale("log")
    axes.set_yscale("log")
    sizes = sorted({r["n"] for r in runs})
    axes.set_xticks(sizes, [f"{n / 1e6:g}M" for n in sizes])
    seconds = [e["seconds"] for r in runs for e in r["engines"].values()]
    ticks = [t for t in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= 2 * max(seconds)]
    axes.set_yticks(ticks, [f"{t:g} s" for t in ticks])
    axes.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_ylim(min(seconds) / 1.3, max(seconds) * 1.3)
    axes.set_xlabel("events in the month (N)")
    axes.set_ylabel("wall time, end to end (s)")
    axes.set_title(
        f"Load, deduplicate, correct, meter, rate, invoice: {runs[-1]['customers']:,} customers"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(PLOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--scaling", default="", help="more N to run first, comma-separated")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--timeout", type=float, default=None, help="seconds per engine")
    parser.add_argument("--memory-limit-gib", type=float, default=None)
    parser.add_argument("--profile", action="store_true", help="profile ours (pyinstrument)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other sizes already in results.json (table, docs and plot show all)",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="write nothing: no docs, results.json or plot"
    )
    args = parser.parse_args(argv)
    args.engines = args.engines.split(",")
    total_gib = psutil.virtual_memory().total / (1 << 30)
    args.memory_limit_gib = args.memory_limit_gib or round(total_gib * 0.85, 1)
    sizes = sorted({int(s) for s in args.scaling.split(",") if s} | {args.events})
    if args.merge and args.scaling and RESULTS.exists():  # --events only names the main run
        measured = {run["n"] for run in json.loads(RESULTS.read_text())["scaling"]}
        sizes = [n for n in sizes if n != args.events or n not in measured]
    runs = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    scratch.chmod(0o755)  # the PostgreSQL server reads the events file as `postgres`
    try:
        for n in sizes:
            args.timeout = args.timeout or max(900.0, n / 1e6 * 150)
            runs.append(measure(n, args, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wrong = [
        (run["n"], name, e["mismatches"])
        for run in runs
        for name, e in run["engines"].items()
        if e.get("totals_match") is False
    ]
    for n, name, mismatches in wrong:
        print(f"N = {n:,}: {name}'s totals differ from ours: (customer, ours, theirs) {mismatches}")
    if wrong or any(run["engines"].get("ours", {}).get("status") != "ok" for run in runs):
        print("No comparison: every engine must bill exactly what ours bills.")
        return 1
    for run in runs:
        for e in run["engines"].values():
            e.pop("totals", None)
    text = section(runs)
    print(text)
    if args.no_docs:
        return 0
    if args.merge and RESULTS.exists():  # earlier sizes from results.json, kept unless re-run
        earlier = json.loads(RESULTS.read_text())
        kept = [run for run in earlier["scaling"] or [earlier] if run["n"] not in sizes]
        runs = sorted(kept + runs, key=lambda run: run["n"])
        text = section(runs)
    main_run = next(run for run in runs if run["n"] == args.events)
    RESULTS.write_text(
        json.dumps(main_run | {"scaling": runs if len(runs) > 1 else []}, indent=2) + "\n"
    )
    write_docs(text)
    if len(runs) > 1:
        plot(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
