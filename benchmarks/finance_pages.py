"""Benchmark: the portal and finance pages of `billing serve` on a billed month of K
customers and N events, and the revenue mart reconciled with the invoices.

Not a test: prints figures to record in docs/benchmarks.md. The month is written and billed
as in `monthly_billing.py`, then finalized; `billing report revenue` must equal Σ invoice
totals (void excluded) − Σ credit notes per currency, to the cent, as `billing invoices`
prints them. Then each page is fetched `--requests` times, one request at a time (the
portal's over 10 customers, 2 of them with credit grants): the first view of a URL
computes it, the views after it are served from what the server kept until the data
changes. The first view's p50 and max, and the later views' p50 and p95, are printed.
Run: `.venv/bin/python benchmarks/finance_pages.py --events 10000000`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

from monthly_billing import PERIOD, bench_home, quiet_billing, write_month

from billing_dagster.api.keys import create_key
from billing_dagster.portal.sessions import open_session
from billing_dagster.reports.finance import NAMES


def reconciled(home: str) -> dict[str, str]:
    """The revenue report's totals, checked against the invoices and credit notes."""
    invoices = json.loads(quiet_billing("--home", home, "invoices", "--period", PERIOD,
                                        "--format", "json"))  # fmt: skip
    notes = json.loads(quiet_billing("--home", home, "credit-notes", "--period", PERIOD,
                                     "--format", "json"))  # fmt: skip
    expected: dict[str, Decimal] = {}
    for invoice in invoices:
        if invoice["status"] != "void":
            currency = invoice["currency"]
            expected[currency] = expected.get(currency, Decimal(0)) + Decimal(invoice["total"])
    for note in notes:
        expected[note["currency"]] -= Decimal(note["total"])
    report = json.loads(quiet_billing("--home", home, "report", "revenue", "--period", PERIOD,
                                      "--format", "json"))  # fmt: skip
    totals = {t["currency"]: Decimal(t["revenue"]) for t in report["totals"]}
    if totals != expected:
        raise SystemExit(f"revenue mart {totals} differs from the invoices {expected}")
    return {currency: str(total) for currency, total in sorted(totals.items())}


def timings(url: str, requests: int, headers: dict[str, str]) -> list[float]:
    """Milliseconds of each of `requests` GETs of `url`: the first computes the page, the
    others are served from what it kept (the data does not change meanwhile)."""
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            answer.read()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    os.environ["BILLING_FINALIZE_GRACE_DAYS"] = "0"

    with bench_home(f"pages-{args.events}", args.customers) as bench:
        home = str(bench.path)
        quiet_billing("--home", home, "catalog", "apply", str(bench.catalog))
        quiet_billing("--home", home, "usage", "--period", PERIOD)  # deploys the dbt models
        write_month(bench.client, bench.database, args.events, args.customers)
        started = time.monotonic()
        quiet_billing("--home", home, "bill", "--period", PERIOD)
        quiet_billing("--home", home, "finalize", "--period", PERIOD)
        print(f"{args.events} events billed and finalized in {time.monotonic() - started:.0f}s")
        print(f"revenue mart = invoices − credit notes: {reconciled(home)}", flush=True)

        _, reader = create_key(bench.client, bench.database, "read", "benchmark")
        customers = [f"c{n:05d}" for n in range(0, args.customers, args.customers // 10)]
        now = datetime.now(UTC)
        tokens = [open_session(bench.client, bench.database, c, 60, now, "benchmark")[0]
                  for c in customers]  # fmt: skip
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "billing_dagster.cli.main", "--home", home, "serve",
             "--port", str(port)],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while True:  # until it listens
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            base = f"http://127.0.0.1:{port}"
            pages = {
                f"/finance/{name}": (f"{base}/finance/{name}?period={PERIOD}", [""])
                for name in NAMES
            }
            pages["/portal (billed month)"] = (f"{base}/portal/{{}}?period={PERIOD}", tokens)
            pages["/portal (open month, projected)"] = (f"{base}/portal/{{}}", tokens)
            cookie = {"Cookie": f"billing_finance={reader}"}
            print(f"{'':34} {'first view of a URL':>22}   {'views after it':>22}")
            print(f"{'page':34} {'p50':>10} {'max':>10}   {'p50':>10} {'p95':>10}")
            for page, (url, fills) in pages.items():
                first, again = [], []
                for fill in fills:
                    taken = timings(url.format(fill), args.requests // len(fills), cookie)
                    first.append(taken[0])
                    again += taken[1:]
                p95 = statistics.quantiles(again, n=20)[-1]
                print(f"{page:34} {statistics.median(first):7.0f} ms {max(first):7.0f} ms   "
                      f"{statistics.median(again):7.0f} ms {p95:7.0f} ms")  # fmt: skip
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
