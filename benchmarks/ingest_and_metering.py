"""Ingest and metering benchmark (issue 2): `make bench N=10000000`.

Runs the product the way a user does, against a fresh billing home and its embedded
warehouse, and prints what each step costs:

1. generate a month (2026-10) of N realistic events for the sample catalog, as JSONL written
   by chDB in a process of its own (`INSERT INTO FUNCTION file(...)`; no Python loop per
   event; the warehouse refuses to write files for its clients);
2. `billing ingest FILE`, timed as a whole and by part: landing (copy + SHA-256), the
   Dagster ingest run, `EventLoader.load` with each of its SQL statements, and the metering
   of the days the file touched (the whole month);
3. metering alone: an empty day (the fixed cost of a Dagster + dbt run), one day of the
   month (about N/31 events) and the whole month, through `JobRunner.meter_days`;
4. history growth: more events on other days (4 x N by default, one file per month before
   October, each through `billing ingest`), then the same day and month metered again. An
   incremental model costs the same for one day whatever the history holds.

Peak RSS is reported per step for the warehouse server process, this Python process (the
CLI, Dagster runs in-process) and its children (the dbt subprocess), sampled every 50 ms;
the server's kernel high-water mark (VmHWM, reset per step) backs the sampled figure.

Everything lives under `benchmarks/data/` (git-ignored); the warehouse is stopped at the
end and the home removed unless `--keep`. Figures go to stdout as a Markdown table and to
`benchmarks/data/results-<N>.json`; Dagster and dbt output goes to a log file next to them.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
CATALOG = ROOT / "billing_dagster" / "demo" / "sample_catalog.yaml"
GIB = 1 << 30
MIB = 1 << 20

#: The month benchmarked, and the day re-metered in it (a Thursday, nothing special).
MONTH = (2026, 10)
DAY = date(2026, 10, 15)
#: A day without events: metering it costs only the fixed Dagster + dbt overhead.
EMPTY_DAY = date(2026, 11, 1)
#: History is added one month per file, going back from the month before MONTH.
HISTORY_MONTHS = [(2026, 9), (2026, 8), (2026, 7), (2026, 6), (2026, 5), (2026, 4)]


# --------------------------------------------------------------------------- event files

# Shares per event: customers (acme 35%, globex 15%, initech 20%, umbrella 10%, zeta 20%);
# event names (api_request 55%, completion 40%, gpu_job 4.5%, seat_snapshot 0.4%,
# storage_snapshot 0.1%). The mess real feeds have: 1% exact resends of a recent line, a
# correction every 100,003 lines (half of them voids), a conflicting resend (same id, other
# content) every 1,000,003 lines and an unknown customer every 1,000,033 lines.
_EVENTS_SQL = """
INSERT INTO FUNCTION file({path}, 'LineAsString')
SELECT concat(
    '{{"event_id":"', event_id, '","customer_id":"', customer, '","event_name":"', event_name,
    '","timestamp":"', timestamp_text, '","properties":', properties, extra, '}}')
FROM (
    SELECT
        number - {offset} AS i,
        multiIf(i >= 5000 AND i % 100003 = 50001, 'fix',
                i >= 5000 AND i % 1000003 = 777, 'conflict',
                i >= 100 AND i % 100 = 99, 'resend',
                i % 1000033 = 1234, 'unknown_customer',
                'new') AS kind,
        -- A correction names the event of the line 5000 before it, or of the nearest line
        -- before that one which sent a new event (not a resend, a conflict or an unknown
        -- customer's): it always names an event ingested before it, as the contract asks.
        if(kind = 'fix', 5000 + arrayFirst(d -> NOT ((i - 5000 - d) % 100 = 99
                                                     OR (i - 5000 - d) % 1000003 = 777
                                                     OR (i - 5000 - d) % 1000033 = 1234),
                                           [0, 1, 2]), 0) AS fix_back,
        number - multiIf(kind = 'fix', fix_back, kind = 'conflict', 11, kind = 'resend', 37, 0)
            AS k,
        sipHash64({seed}, k) AS h,
        sipHash64({seed}, k, kind IN ('fix', 'conflict')) AS hp,
        toString(reinterpretAsUUID(sipHash128({seed}, k))) AS original_id,
        if(kind = 'fix', concat(original_id, '-fix'), original_id) AS event_id,
        multiIf(kind = 'unknown_customer', 'hooli', h % 100 < 35, 'acme', h % 100 < 50, 'globex',
                h % 100 < 70, 'initech', h % 100 < 80, 'umbrella', 'zeta') AS customer,
        intDiv(h, 100) % 1000 AS t,
        multiIf(t < 550, 'api_request', t < 950, 'completion', t < 995, 'gpu_job',
                t < 999, 'seat_snapshot', 'storage_snapshot') AS event_name,
        (intDiv((k - {offset}) * {span_ms}, {count}) + intDiv(h, 100000) % 60000) % {span_ms}
            AS at_ms,
        concat(formatDateTime(toDateTime({start_s} + intDiv(at_ms, 1000), 'UTC'),
                              '%Y-%m-%dT%H:%i:%S', 'UTC'),
               '.', leftPad(toString(at_ms % 1000), 3, '0'), 'Z') AS timestamp_text,
        multiIf(
            event_name = 'api_request',
            concat('{{"status":"',
                   ['200','200','200','200','200','200','200','200','200','200','200','200',
                    '200','200','200','200','201','400','429','500'][1 + hp % 20],
                   '","user_id":"u', toString(intDiv(hp, 20) % 5000), '"}}'),
            event_name = 'completion',
            concat('{{"model":"',
                   ['nimbus-small', 'nimbus-small', 'nimbus-medium', 'nimbus-large'][1 + hp % 4],
                   '","tokens":', toString(50 + intDiv(hp, 4) % 3951), '}}'),
            event_name = 'gpu_job',
            concat('{{"seconds":', toString(30 + hp % 871), '.', toString(intDiv(hp, 1000) % 10),
                   ',"concurrency":', toString(1 + intDiv(hp, 10000) % 8), '}}'),
            event_name = 'seat_snapshot',
            concat('{{"seats":', toString(5 + hp % 40), '}}'),
            concat('{{"gb":', toString(40 + hp % 361), '}}')
        ) AS properties,
        concat(
            if(h % 10 = 0, ',"source":"sdk-python"', ''),
            if(kind = 'fix',
               concat(',"replaces":"', original_id, '"', if(k % 2 = 0, ',"void":true', '')), '')
        ) AS extra
    FROM numbers({offset}, {count})
)
SETTINGS engine_file_truncate_on_insert = 1
"""


def month_span(year: int, month: int) -> tuple[int, int]:
    """(first second of the month as a Unix time, length of the month in milliseconds)."""
    start = int(datetime(year, month, 1, tzinfo=UTC).timestamp())
    return start, calendar.monthrange(year, month)[1] * 86_400_000


def run_in_chdb(sql: str) -> None:
    """Run `sql` in chDB in a subprocess: the files it writes are the benchmark's own (the
    warehouse refuses `INSERT INTO FUNCTION file`), and its memory is not ours to count."""
    code = "import chdb, sys; chdb.query(sys.stdin.read())"
    subprocess.run([sys.executable, "-c", code], input=sql, text=True, check=True)


def generate_month(path: Path, year: int, month: int, count: int, offset: int) -> None:
    """`count` events over one month; `offset` keeps event ids unique across files."""
    from billing_dagster.warehouse.sql_text import quote_string

    start_s, span_ms = month_span(year, month)
    path.unlink(missing_ok=True)
    run_in_chdb(
        _EVENTS_SQL.format(
            path=quote_string(str(path)),
            offset=offset,
            count=count,
            seed=20261015,
            start_s=start_s,
            span_ms=span_ms,
        )
    )


def fresh_month_file(work: Path, count: int) -> Path:
    """An empty `work` directory holding one month of `count` events, its size printed."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    events = work / f"events-{count}.jsonl"
    generate_month(events, *MONTH, count, 0)
    print(f"{count:,} events, {events.stat().st_size / (1 << 20):,.0f} MiB", flush=True)
    return events


# --------------------------------------------------------------------------- measuring


@dataclass
class Peaks:
    server: int = 0
    client: int = 0
    dbt: int = 0


class RssSampler:
    """Samples RSS of the server, this process and its children in a background thread."""

    def __init__(self, server_pid: int, interval_s: float = 0.05):
        self.server = psutil.Process(server_pid)
        self.me = psutil.Process()
        self.interval_s = interval_s
        self.peaks = Peaks()
        self.overall = Peaks()
        self.window_server = 0  # peak server RSS since `window_start`, for one statement
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        """Start a new step: clear the sampled peaks and the server's VmHWM."""
        self.peaks = Peaks()
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.server.pid}/clear_refs").write_text("5")

    def window_start(self) -> None:
        self.window_server = 0
        self._sample()

    def window_peak(self) -> int:
        self._sample()
        return self.window_server

    def server_hwm(self) -> int:
        """The kernel's peak RSS of the server since the last reset, in bytes."""
        try:
            status = Path(f"/proc/{self.server.pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def _sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            server = self.server.memory_info().rss
            self.window_server = max(self.window_server, server)
            self.peaks.server = max(self.peaks.server, server)
            self.overall.server = max(self.overall.server, server)
        with contextlib.suppress(psutil.Error):
            client = self.me.memory_info().rss
            self.peaks.client = max(self.peaks.client, client)
            self.overall.client = max(self.overall.client, client)
        children = 0
        with contextlib.suppress(psutil.Error):
            for child in self.me.children(recursive=True):
                if child.pid == self.server.pid:  # started by us, reported on its own
                    continue
                with contextlib.suppress(psutil.Error):
                    children += child.memory_info().rss
        self.peaks.dbt = max(self.peaks.dbt, children)
        self.overall.dbt = max(self.overall.dbt, children)


@dataclass
class Step:
    name: str
    events: int  # events the step processes (0 when not meaningful)
    history: int  # events in the store when the step started
    seconds: float
    server_peak: int = 0
    server_hwm: int = 0
    client_peak: int = 0
    dbt_peak: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    note: str = ""
    #: (statement or phase, seconds, peak server RSS while it ran or 0 when not sampled)
    statements: list[tuple[str, float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.events and self.seconds else 0.0


class Timings:
    """Wall times recorded by hooks on the product's code (landing, runs, loads)."""

    def __init__(self):
        self.records: list[tuple[str, float, dict]] = []

    def add(self, name: str, seconds: float, **extra) -> None:
        self.records.append((name, seconds, extra))

    def pop(self) -> list[tuple[str, float, dict]]:
        records, self.records = self.records, []
        return records


class TimedClient:
    """A clickhouse-connect client that records the wall time of every statement."""

    def __init__(self, client, statements: list, sampler: RssSampler | None):
        self._client = client
        self._statements = statements
        self._sampler = sampler

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _timed(self, method: str, label: str, first, *args, **kwargs):
        if self._sampler:
            self._sampler.window_start()
        started = time.perf_counter()
        try:
            return getattr(self._client, method)(first, *args, **kwargs)
        finally:
            seconds = time.perf_counter() - started
            peak = self._sampler.window_peak() if self._sampler else 0
            label = f"{method}: {' '.join(label.split())}"
            self._statements.append((label, seconds, peak))

    def command(self, cmd, *args, **kwargs):
        return self._timed("command", cmd, cmd, *args, **kwargs)

    def query(self, query, *args, **kwargs):
        return self._timed("query", query, query, *args, **kwargs)

    def insert(self, table, *args, **kwargs):
        return self._timed("insert", f"INTO {table}", table, *args, **kwargs)


def install_hooks(timings: Timings, sampler: RssSampler | None = None) -> None:
    """Time landing, Dagster runs and loads by wrapping the product's functions in place."""
    from billing_dagster.cli import runs
    from billing_dagster.ingest import landing, loader

    def timed(owner, name: str, label: Callable[..., str]):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started, wall_start = time.perf_counter(), time.time()
            result = original(*args, **kwargs)
            extra = {"run_id": getattr(result, "run_id", None), "wall": (wall_start, time.time())}
            timings.add(label(*args, **kwargs), time.perf_counter() - started, **extra)
            return result

        setattr(owner, name, wrapper)

    timed(landing, "land", lambda *a, **k: "landing")
    timed(runs.JobRunner, "run", lambda self, job, *a, **k: f"run:{job}")

    original_load = loader.EventLoader.load

    def load(self, *args, **kwargs):
        statements: list[tuple[str, float, int]] = []
        client, self.client = self.client, TimedClient(self.client, statements, sampler)
        started = time.perf_counter()
        try:
            result = original_load(self, *args, **kwargs)
        finally:
            self.client = client
        timings.add(
            "load", time.perf_counter() - started, statements=statements, lines=result.lines
        )
        return result

    loader.EventLoader.load = load


def dbt_statements(home: Path, run_id: str | None, wall: tuple[float, float] | None = None):
    """Each SQL statement of a dbt run and its time, from the run's dbt.log (JSON lines, in
    the home's dbt workspace),
    and, given the Dagster run's wall clock, where the rest of the run's time went."""
    if not run_id:
        return []
    statements: list[tuple[str, float, int]] = []
    stamps: dict[str, float] = {}
    for log in (home / "dbt").glob(f"*-{run_id[:7]}-*/dbt.log"):
        pending = None
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError, KeyError, ValueError):
                info = json.loads(line)["info"]
                message, at = info["msg"], datetime.fromisoformat(info["ts"]).timestamp()
                stamps.setdefault("first", at)
                stamps["last"] = at
                if info["name"] == "FoundStats":
                    stamps["parsed"] = at
                if message.startswith("dbt_clickhouse adapter: On "):
                    pending = _sql_label(message.split(": ", 2)[-1])
                elif pending and (done := re.search(r"SQL status: \w+ in ([0-9.]+) sec", message)):
                    statements.append((f"dbt: {pending}", float(done.group(1)), 0))
                    pending = None
    if wall and {"first", "parsed", "last"} <= stamps.keys():
        sql = sum(seconds for _, seconds, _ in statements)
        phases = [
            (
                "phase: Dagster step set-up and dbt process start (until dbt's first log line)",
                stamps["first"] - wall[0],
            ),
            (
                "phase: dbt project parse (partial parse is invalidated by the --vars)",
                stamps["parsed"] - stamps["first"],
            ),
            (
                "phase: dbt outside SQL (connections, catalog queries, artifacts)",
                stamps["last"] - stamps["parsed"] - sql,
            ),
            ("phase: after dbt exits (Dagster events, run bookkeeping)", wall[1] - stamps["last"]),
        ]
        statements += [(name, seconds, 0) for name, seconds in phases]
    return statements


def _sql_label(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    sql = re.sub(r"--[^\n]*", " ", sql)
    return " ".join(sql.split())


def load_average() -> float:
    return os.getloadavg()[0]


class Bench:
    def __init__(self, home: Path, log_path: Path):
        from billing_dagster.warehouse import embedded
        from billing_dagster.warehouse.connection import ClickHouseSettings

        self.home = home
        self.log_path = log_path
        self.endpoint = embedded.ensure_running(home, idle_timeout_s=0)
        self.settings = ClickHouseSettings.resolve(home)
        self.client = self.settings.client()
        self.db = f"`{self.settings.database}`"
        self.sampler = RssSampler(self.endpoint.pid)
        self.timings = Timings()
        self.steps: list[Step] = []
        self._runner = None

    @property
    def runner(self):
        if self._runner is None:
            from billing_dagster.cli.runs import JobRunner

            self._runner = JobRunner(self.home)
        return self._runner

    def history(self) -> int:
        with contextlib.suppress(Exception):
            return int(self.client.command(f"SELECT count() FROM {self.db}.raw_events"))
        return 0

    @contextlib.contextmanager
    def step(self, name: str, events: int = 0, note: str = "") -> Iterator[Step]:
        step = Step(name, events, self.history(), 0.0, load_before=load_average(), note=note)
        progress(f"{name} ...")
        self.sampler.reset()
        started = time.perf_counter()
        yield step
        step.seconds = time.perf_counter() - started
        time.sleep(2 * self.sampler.interval_s)  # one more sample after the work
        step.server_peak = self.sampler.peaks.server
        step.server_hwm = self.sampler.server_hwm()
        step.client_peak = self.sampler.peaks.client
        step.dbt_peak = self.sampler.peaks.dbt
        step.load_after = load_average()
        self.steps.append(step)
        rate = f", {step.rate:,.0f} events/s" if step.rate else ""
        progress(
            f"{name}: {step.seconds:.2f} s{rate}; peak RSS server "
            f"{mib(max(step.server_peak, step.server_hwm))}, client {mib(step.client_peak)}, "
            f"dbt {mib(step.dbt_peak)}"
        )

    def billing(self, *args: str) -> None:
        from billing_dagster.cli.main import main as billing

        code = billing([*args, "--home", str(self.home)])
        if code != 0:
            raise SystemExit(f"`billing {' '.join(args)}` exited with {code}; see {self.log_path}")

    def sub_step(self, name: str, seconds: float, events: int, history: int, **extra) -> Step:
        step = Step(name, events, history, seconds, load_after=load_average(), **extra)
        self.steps.append(step)
        return step

    def ingest(self, path: Path, events: int, label: str) -> None:
        """`billing ingest FILE`, then its parts as separate rows from the hooks."""
        self.timings.pop()
        with self.step(f"billing ingest ({label})", events) as whole:
            self.billing("ingest", str(path))
        parts = self.timings.pop()
        for name, seconds, extra in parts:
            if name == "landing":
                self.sub_step("  landing: copy + SHA-256", seconds, events, whole.history)
            elif name == "run:ingest_job":
                self.sub_step("  Dagster ingest run", seconds, events, whole.history)
            elif name == "load":
                self.sub_step(
                    "  EventLoader.load",
                    seconds,
                    extra["lines"],
                    whole.history,
                    statements=extra["statements"],
                )
            elif name == "run:metering_job":
                self.sub_step(
                    "  metering of the touched days",
                    seconds,
                    events,
                    whole.history,
                    statements=dbt_statements(self.home, extra["run_id"], extra["wall"]),
                )
        accounted = sum(s for n, s, _ in parts if n in ("landing", "run:ingest_job"))
        accounted += sum(s for n, s, _ in parts if n == "run:metering_job")
        self.sub_step(
            "  other (CLI, Dagster definitions, checks)",
            whole.seconds - accounted,
            0,
            whole.history,
        )

    def meter(self, name: str, first: date, last: date, events: int, repeat: int) -> None:
        for attempt in range(1, repeat + 1):
            self.timings.pop()
            label = f"{name} [{attempt}/{repeat}]" if repeat > 1 else name
            with self.step(label, events) as step:
                self.runner.meter_days(first, last)
            runs = [extra for name, _, extra in self.timings.pop() if name.startswith("run:")]
            if runs:
                step.statements = dbt_statements(self.home, runs[-1]["run_id"], runs[-1]["wall"])

    def events_between(self, first: date, last: date) -> int:
        return int(
            self.client.command(
                f"SELECT count() FROM {self.db}.raw_events "
                f"WHERE event_date BETWEEN '{first}' AND '{last}'"
            )
        )

    def duplicated_usage_rows(self) -> dict[str, int]:
        """Per month, daily usage rows present more than once for the same key: metering a
        window must replace that window's rows and leave every other day as it was."""
        rows = self.client.query(
            f"SELECT toStartOfMonth(usage_date) AS month, sum(copies - 1) FROM ("
            f"SELECT usage_date, count() AS copies FROM {self.db}.fct_metric_usage_daily "
            f"GROUP BY usage_date, customer_id, metric_code, group_value HAVING copies > 1) "
            f"GROUP BY month ORDER BY month"
        ).result_rows
        return {f"{month:%Y-%m}": int(extra) for month, extra in rows}

    def day_fingerprint(self, day: date) -> list:
        """The day's metered rows, to check that re-metering gives the same answer."""
        return [
            list(map(str, row))
            for row in self.client.query(
                f"SELECT metric_code, sum(event_count), sum(value_sum), max(value_max), "
                f"finalizeAggregation(uniqExactMergeState(distinct_values)) "
                f"FROM {self.db}.fct_metric_usage_daily WHERE usage_date = '{day}' "
                f"GROUP BY metric_code ORDER BY metric_code"
            ).result_rows
        ]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.__stdout__, flush=True)


def mib(value: int) -> str:
    return f"{value / MIB:,.0f} MiB" if value else "-"


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send fd 2 (Dagster, dbt and the warehouse client's logs) to a file while running."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict:
    from billing_dagster.warehouse import embedded

    n = args.events
    home = args.home.resolve()
    if home.exists():
        embedded.stop(home)
        shutil.rmtree(home)
    home.mkdir(parents=True)
    DATA.mkdir(parents=True, exist_ok=True)
    log_path = DATA / f"bench-{n}.log"
    log_path.unlink(missing_ok=True)
    events_file = DATA / f"events-{MONTH[0]}-{MONTH[1]:02d}-{n}.jsonl"
    machine = {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "load_at_start": os.getloadavg(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "code": code_version(),
    }
    progress(f"billing home {home}; Dagster and dbt output in {log_path}")
    bench = None
    try:
        with stderr_to(log_path):
            bench = Bench(home, log_path)
            bench.sampler.start()
            install_hooks(bench.timings, bench.sampler)
            progress(f"warehouse pid {bench.endpoint.pid} on port {bench.endpoint.port}")
            measure(bench, args, events_file)
            machine["load_at_end"] = os.getloadavg()
            machine["code_at_end"] = code_version()
            machine["server_peak_overall"] = bench.sampler.overall.server
            machine["client_peak_overall"] = bench.sampler.overall.client
            machine["dbt_peak_overall"] = bench.sampler.overall.dbt
            with contextlib.suppress(OSError):
                machine["chdb_data_bytes"] = directory_size(home / "warehouse" / "data")
    finally:
        if bench is not None:
            bench.sampler.stop()
        stopped = embedded.stop(home)
        progress(f"warehouse {'stopped' if stopped else 'was not running'}")
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
            for path in DATA.glob(f"events-*-{n}.jsonl"):
                path.unlink()
    return {
        "events": n,
        "history_events": args.history_events,
        "machine": machine,
        "steps": [asdict(step) | {"rate": step.rate} for step in bench.steps],
        "checks": bench.checks,
    }


def measure(bench: Bench, args: argparse.Namespace, events_file: Path) -> None:
    n = args.events
    bench.checks = {}
    with bench.step("billing catalog apply"):
        bench.billing("catalog", "apply", str(CATALOG))
    with bench.step("deploy dbt models (once per home)"):
        bench.runner.ensure_models_deployed(bench.client, bench.settings.database)

    with bench.step(f"generate {MONTH[0]}-{MONTH[1]:02d} JSONL in ClickHouse", n) as step:
        generate_month(events_file, *MONTH, n, offset=0)
    step.note = f"{events_file.stat().st_size / MIB:,.0f} MiB"
    bench.ingest(events_file, n, f"{MONTH[0]}-{MONTH[1]:02d}")
    events_file.unlink()
    counts = bench.client.query(
        f"SELECT sum(lines), sum(accepted), sum(duplicates), sum(conflicts), sum(quarantined) "
        f"FROM {bench.db}.event_loads"
    ).result_rows[0]
    names = ["lines", "accepted", "duplicates", "conflicts", "quarantined"]
    bench.checks["first_load"] = dict(zip(names, map(int, counts), strict=True))

    first, last = date(*MONTH, 1), date(*MONTH, calendar.monthrange(*MONTH)[1])
    day_events = bench.events_between(DAY, DAY)
    month_events = bench.events_between(first, last)
    bench.meter("meter an empty day (fixed cost)", EMPTY_DAY, EMPTY_DAY, 0, args.repeat)
    bench.meter(f"re-meter one day {DAY}", DAY, DAY, day_events, args.repeat)
    bench.checks["day_before"] = bench.day_fingerprint(DAY)
    bench.meter(f"re-meter the month {first:%Y-%m}", first, last, month_events, 1)

    if args.history_events:
        files = min(len(HISTORY_MONTHS), max(1, -(-args.history_events // max(n, 1))))
        per_file = args.history_events // files
        for number, (year, month) in enumerate(HISTORY_MONTHS[:files], start=1):
            path = DATA / f"events-{year}-{month:02d}-{n}.jsonl"
            with bench.step(f"generate {year}-{month:02d} JSONL in ClickHouse", per_file) as step:
                generate_month(path, year, month, per_file, offset=number * 10**12)
            step.note = f"{path.stat().st_size / MIB:,.0f} MiB"
            bench.ingest(path, per_file, f"{year}-{month:02d}")
            path.unlink()
        bench.meter("meter an empty day (fixed cost)", EMPTY_DAY, EMPTY_DAY, 0, 1)
        bench.meter(f"re-meter one day {DAY}", DAY, DAY, day_events, args.repeat)
        bench.checks["day_after"] = bench.day_fingerprint(DAY)
        bench.checks["day_unchanged"] = bench.checks["day_after"] == bench.checks["day_before"]
        bench.meter(f"re-meter the month {first:%Y-%m}", first, last, month_events, 1)
    bench.checks["raw_events"] = bench.history()
    bench.checks["duplicated_daily_usage_rows"] = bench.duplicated_usage_rows()


def code_version() -> str:
    """The commit measured, and product files changed since it (the figures are for those)."""
    git = ["git", "-C", str(ROOT)]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        quiet = {"text": True, "stderr": subprocess.DEVNULL}
        head = subprocess.check_output([*git, "log", "-1", "--format=%h %s"], **quiet).strip()
        changed = subprocess.check_output(
            [*git, "status", "--porcelain", "--", "billing_dagster", "dbt_project"], **quiet
        ).split("\n")
        changed = [line[3:] for line in changed if line.strip()]
        return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")
    return "unknown"


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --------------------------------------------------------------------------- report


def report(results: dict) -> str:
    machine = results["machine"]
    lines = [
        f"events N = {results['events']:,}, extra history = {results['history_events']:,}; "
        f"{machine['nproc']} cores, {machine['memory_gib']} GiB; load average (1/5/15 min) "
        f"at start {fmt_load(machine['load_at_start'])}, at end "
        f"{fmt_load(machine.get('load_at_end', (0, 0, 0)))}",
        f"code: {machine.get('code')}"
        + (
            f" (changed during the run, now: {machine['code_at_end']})"
            if machine.get("code_at_end", machine.get("code")) != machine.get("code")
            else ""
        ),
        "",
        "| step | events | history | seconds | events/s | server peak RSS | client peak RSS "
        "| dbt peak RSS | load 1 min | note |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for step in results["steps"]:
        server = max(step["server_peak"], step["server_hwm"])
        lines.append(
            f"| {step['name'].replace('  ', '↳ ')} | {step['events']:,} | {step['history']:,} "
            f"| {step['seconds']:.2f} | {step['rate']:,.0f} | {mib(server)} "
            f"| {mib(step['client_peak'])} | {mib(step['dbt_peak'])} "
            f"| {step['load_after']:.2f} | {step['note']} |"
        )
    lines += [
        "",
        f"Peak RSS over the whole run: server {mib(machine.get('server_peak_overall', 0))}, "
        f"client {mib(machine.get('client_peak_overall', 0))}, "
        f"dbt {mib(machine.get('dbt_peak_overall', 0))}; "
        f"warehouse data {machine.get('chdb_data_bytes', 0) / MIB:,.0f} MiB on disk.",
        f"Checks: {json.dumps(results['checks'].get('first_load'))}; day {DAY} metered "
        f"identically at both history sizes: {results['checks'].get('day_unchanged')}; "
        f"raw_events at end: {results['checks'].get('raw_events', 0):,}; daily usage rows "
        f"duplicated (extra copies per month): "
        f"{json.dumps(results['checks'].get('duplicated_daily_usage_rows'))}.",
    ]
    lines += ["", "Slowest statements:", ""]
    for step in results["steps"]:
        statements = sorted(step["statements"], key=lambda s: -s[1])[:6]
        if statements:
            lines.append(f"* {step['name'].strip()} ({step['seconds']:.2f} s):")
            lines += [
                f"  * {seconds:7.2f} s{f', server {mib(peak)}' if peak else ''}  {text[:140]}"
                for text, seconds, peak in statements
            ]
    lines += ["", summary(results)]
    return "\n".join(lines)


def summary(results: dict) -> str:
    steps = results["steps"]

    def first(prefix: str) -> dict | None:
        return next((s for s in steps if s["name"].strip().startswith(prefix)), None)

    def fastest(prefix: str, history_at_least: int = 0, history_below: int | None = None):
        found = [
            s
            for s in steps
            if s["name"].startswith(prefix)
            and s["history"] >= history_at_least
            and (history_below is None or s["history"] < history_below)
        ]
        return min(found, key=lambda s: s["seconds"]) if found else None

    n = results["events"]
    load = first("EventLoader.load")
    day = f"re-meter one day {DAY}"
    day_small = fastest(day, history_below=n + 1)
    day_large = fastest(day, history_at_least=n + 1)
    month = fastest("re-meter the month", history_below=n + 1)
    overall = results["machine"]
    out = ["Targets:"]
    if load:
        out.append(
            f"* ingest >= 1,000,000 events/s: {load['rate']:,.0f} events/s "
            f"({'met' if load['rate'] >= 1e6 else 'missed'})"
        )
    if month:
        out.append(
            f"* metering {month['events']:,} events <= 10 s: {month['seconds']:.2f} s "
            f"({'met' if month['seconds'] <= 10 else 'missed'})"
        )
    peak = max(overall.get("server_peak_overall", 0), overall.get("client_peak_overall", 0))
    out.append(
        f"* peak RSS <= 2 GiB: server {mib(overall.get('server_peak_overall', 0))}, client "
        f"{mib(overall.get('client_peak_overall', 0))} ({'met' if peak <= 2 * GIB else 'missed'})"
    )
    if day_small and day_large:
        ratio = day_large["seconds"] / day_small["seconds"]
        out.append(
            f"* one day re-metered at {day_small['history']:,} vs {day_large['history']:,} "
            f"events of history: {day_small['seconds']:.2f} s vs {day_large['seconds']:.2f} s "
            f"(x{ratio:.2f})"
        )
    return "\n".join(out)


def fmt_load(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the month")
    parser.add_argument(
        "--history-events",
        type=int,
        default=None,
        help="events added on other days before re-metering again (default 4 x --events; "
        "0 skips the history step)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each one-day metering")
    parser.add_argument(
        "--home", type=Path, default=DATA / "home", help="billing home, emptied first"
    )
    parser.add_argument("--keep", action="store_true", help="keep the billing home at the end")
    args = parser.parse_args(argv)
    if args.history_events is None:
        args.history_events = 4 * args.events
    results = run(args)
    path = DATA / f"results-{args.events}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(report(results))
    print(f"\n(results: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
