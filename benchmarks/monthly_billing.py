"""Benchmark: full monthly billing (metering, rating, invoices) of K customers and N events.

Not a test: prints figures to record in docs/benchmarks.md. Ingestion has its own benchmark
(`ingest_and_metering.py`); here the month's events are written straight into `raw_events`
inside ClickHouse as one committed load, then `billing bill --period 2026-10` is timed as a
user runs it: it meters the month's days (dbt), rates (dbt views) and writes the invoices
(Dagster asset). The dbt models are deployed beforehand, as any installation has them.
Run: `.venv/bin/python benchmarks/monthly_billing.py --events 100000000`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.cli.main import main as billing
from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema

DATA = Path(__file__).resolve().parent / "data"
PERIOD = "2026-10"
PLANS = ["starter", "pro", "scale_eu"]

CATALOG_HEAD = Path(__file__).resolve().parents[1] / "billing_dagster/demo/sample_catalog.yaml"


#: Where `--zoned` puts a third of the customers: DST in each hemisphere, half-hour offsets, +14.
ZONES = ("America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati")


def catalog_text(customers: int, catalog_head: Path = CATALOG_HEAD, zoned: bool = False) -> str:
    """The demo catalog's metrics and plans (or another catalog's), with `customers` generated
    customers; `zoned`: every third of them in one of ZONES, the others in UTC."""
    head = catalog_head.read_text().split("\ncustomers:")[0]
    lines = [head, "customers:"]
    for number in range(customers):
        plan = PLANS[number % 3]
        lines.append(f"  - id: c{number:05d}")
        lines.append(f"    name: Customer {number}")
        lines.append(f'    tax_rate: "{"0.20" if number % 2 else "0"}"')
        if zoned and number % 3 == 1:
            lines.append(f"    timezone: {ZONES[number // 3 % len(ZONES)]}")
        lines.append(
            f"    subscriptions: [{{plan: {plan}, version: 1, start: 2026-0{1 + number % 9}-01}}]"
        )
    lines.append("credit_grants:")
    for number in range(0, customers, 7):
        lines.append(
            f'  - {{id: g{number}, customer: c{number:05d}, amount: "300.00", '
            f"effective: 2026-01-01, expires: null, priority: 1}}"
        )
    return "\n".join(lines) + "\n"


#: One month of events: completions (tokens by model), API calls with a status and a user,
#: GPU jobs, seat and storage snapshots; every customer in the catalog.
EVENTS = """
INSERT INTO {db}.raw_events (event_date, customer_id, event_id, event_name, timestamp,
    properties, source, replaces, void, key_hash, content_hash, load_seq, line_no)
SELECT toDate(ts), customer, event_id, name, ts, properties, NULL, NULL, false,
       sipHash128(customer, event_id), sipHash128(event_id), 1, number + 1
FROM (
    SELECT number,
           concat('c', leftPad(toString(cityHash64(number) % {customers}), 5, '0')) AS customer,
           concat('e', toString(number)) AS event_id,
           number % 20 AS kind,
           toDateTime64('2026-10-01 00:00:00', 3, 'UTC')
               + toIntervalMillisecond(intDiv(number * 2678400000, {events})) AS ts,
           multiIf(kind < 9, 'completion', kind < 16, 'api_request', kind < 18, 'gpu_job',
                   kind < 19, 'seat_snapshot', 'storage_snapshot') AS name,
           multiIf(
               kind < 9, map('model', ['nimbus-small', 'nimbus-large'][number % 2 + 1],
                             'tokens', toString(cityHash64(number, 1) % 4000)),
               kind < 16, map('status', ['200', '200', '200', '201', '500'][number % 5 + 1],
                              'user_id', concat('u', toString(number % 97))),
               kind < 18, map('seconds', toString((cityHash64(number, 2) % 36000) / 10),
                              'concurrency', toString(number % 9)),
               kind < 19, map('seats', toString(number % 50)),
               map('gb', toString(number % 900))) AS properties
    FROM numbers({events})
)
"""


def write_month(client, database: str, events: int, customers: int) -> None:
    """The month's events straight into `raw_events`, committed as one load landed today."""
    db = f"`{database}`"
    client.command(
        EVENTS.format(db=db, customers=customers, events=events),
        settings={"max_execution_time": 3600},
    )
    client.command(
        f"INSERT INTO {db}.event_loads (load_seq, file_sha256, file_name, landing_date, lines, "
        f"accepted, event_dates) SELECT 1, 'benchmark', 'events-0001.jsonl', today(), "
        f"{events}, {events}, groupArray(toDate('2026-10-01') + number) FROM numbers(31)"
    )


@dataclass(frozen=True)
class BenchHome:
    path: Path
    endpoint: embedded.Endpoint
    client: Client
    database: str
    catalog: Path  # the benchmark catalog, written but not applied yet


@contextlib.contextmanager
def bench_home(
    name: str, customers: int, catalog_head: Path = CATALOG_HEAD, zoned: bool = False
) -> Iterator[BenchHome]:
    """A new billing home under benchmarks/data with its warehouse running and the catalog of
    `customers` written beside it; stopped and removed afterwards."""
    home = DATA / name
    shutil.rmtree(home, ignore_errors=True)
    endpoint = embedded.ensure_running(home, idle_timeout_s=0)
    try:
        settings = ClickHouseSettings.embedded(endpoint)
        client = settings.client()
        ensure_schema(client, settings.database)
        catalog = home / "catalog.yaml"
        catalog.write_text(catalog_text(customers, catalog_head, zoned))
        yield BenchHome(home, endpoint, client, settings.database, catalog)
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def quiet_billing(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = billing(list(args))
    if code:
        raise SystemExit(f"billing {' '.join(args)} failed with exit code {code}")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument(
        "--catalog-head",
        type=Path,
        default=CATALOG_HEAD,
        help="take the metrics and plans of this catalog (an older demo catalog, to compare)",
    )
    parser.add_argument(
        "--zoned",
        action="store_true",
        help="put a third of the customers in other time zones (docs/invoicing.md)",
    )
    parser.add_argument(
        "--invoices-out",
        type=Path,
        help="write the month's invoices (JSON) here: two checkouts' files compare byte for byte",
    )
    args = parser.parse_args()

    home_name = f"billing-{args.events}{'-zoned' if args.zoned else ''}"
    with bench_home(home_name, args.customers, args.catalog_head, args.zoned) as bench:
        home, client = bench.path, bench.client
        started = time.monotonic()
        quiet_billing("--home", str(home), "catalog", "apply", str(bench.catalog))
        apply_s = time.monotonic() - started
        print(f"catalog of {args.customers} customers applied in {apply_s:.1f}s", flush=True)
        started = time.monotonic()
        quiet_billing("--home", str(home), "usage", "--period", PERIOD)  # deploys the dbt models
        print(f"dbt models deployed (once per installation) in {time.monotonic() - started:.1f}s")

        started = time.monotonic()
        db = f"`{bench.database}`"
        write_month(client, bench.database, args.events, args.customers)
        print(f"{args.events} events generated in {time.monotonic() - started:.1f}s", flush=True)

        started = time.monotonic()
        summary = json.loads(quiet_billing("--home", str(home), "bill", "--period", PERIOD))
        bill_s = time.monotonic() - started
        runs = client.query(f"SELECT count(), sum(invoices) FROM {db}.billing_runs").result_rows[0]
        lines = client.command(f"SELECT count() FROM {db}.invoice_lines")

        started = time.monotonic()
        quiet_billing("--home", str(home), "bill", "--period", PERIOD)
        rebill_s = time.monotonic() - started

        python_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures = {
            "events": args.events,
            "customers": args.customers,
            "invoices": summary["invoices"],
            "invoice_lines": int(lines),
            "billing_runs": int(runs[0]),
            "bill_seconds": round(bill_s, 1),
            "events_per_second": round(args.events / bill_s),
            "rebill_seconds (nothing to meter)": round(rebill_s, 1),
            "peak_rss_cli_mb": round(python_rss),
            "peak_rss_dbt_children_mb": round(children_rss),
            "peak_rss_warehouse_mb": round(peak_rss_mb(bench.endpoint.pid)),
            "totals": summary["totals"],
        }
        for name, value in figures.items():
            print(f"{name:32} {value}")
        if args.invoices_out:
            args.invoices_out.write_text(
                quiet_billing(
                    "--home", str(home), "invoices", "--period", PERIOD, "--format", "json"
                )
            )


if __name__ == "__main__":
    main()
