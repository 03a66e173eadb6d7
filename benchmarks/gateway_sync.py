"""Benchmark: syncing N finalized invoices to Stripe (the fake server of the tests).

Not a test: prints figures to record in docs/benchmarks.md. The finalized invoices (USD with
seven lines, EUR with three, JPY with two, in turn) are written straight into the warehouse,
then one `sync_period` pushes them all through the real Stripe SDK to localstripe, extended as
in the tests, with the ledger in the embedded warehouse; a second run then finds everything in
the ledger. Run: `.venv/bin/python benchmarks/gateway_sync.py --invoices 1000`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from billing_dagster.gateways.retry import RetryPolicy  # noqa: E402
from billing_dagster.gateways.stripe_gateway import StripeGateway  # noqa: E402
from billing_dagster.gateways.sync import sync_period  # noqa: E402
from billing_dagster.warehouse import embedded  # noqa: E402
from billing_dagster.warehouse.connection import ClickHouseSettings  # noqa: E402
from billing_dagster.warehouse.schema import ensure_schema  # noqa: E402
from testbed import fake_stripe  # noqa: E402
from testbed.documents import three_currencies, write_finalized  # noqa: E402

PERIOD = "2026-10"


def invoices(count: int) -> list[dict]:
    templates = three_currencies(PERIOD)
    result = []
    for number in range(count):
        invoice = copy.deepcopy(templates[number % 3])
        customer = f"c{number:05d}"
        invoice |= {"customer_id": customer, "invoice_id": f"INV-{PERIOD}-{customer}"}
        result.append(invoice)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    count = parser.parse_args().invoices
    home = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    endpoint = embedded.ensure_running(home, idle_timeout_s=0)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        with fake_stripe.start(stderr=subprocess.DEVNULL) as stripe_url:
            sync_all(endpoint, database, stripe_url, count)
    finally:
        embedded.stop(home)


def sync_all(endpoint, database: str, stripe_url: str, count: int) -> None:
    """Sync `count` finalized invoices, then again; print the figures."""
    client = ClickHouseSettings.embedded(endpoint, database).client()
    ensure_schema(client, database)
    documents = invoices(count)
    write_finalized(client, database, PERIOD, documents)
    gateway = StripeGateway("sk_test_bench", stripe_url)
    retry = RetryPolicy()
    started = time.perf_counter()
    summary = sync_period(client, database, gateway, PERIOD, retry)
    elapsed = time.perf_counter() - started
    assert len(summary.synced) == count and not summary.failed, summary.failed[:3]
    started = time.perf_counter()
    again = sync_period(client, database, gateway, PERIOD, retry)
    rerun = time.perf_counter() - started
    assert len(again.already_synced) == count
    lines = sum(len(i["lines"]) for i in documents)
    print(
        json.dumps(
            {
                "invoices": count,
                "lines": lines,
                "sync_seconds": round(elapsed, 2),
                "invoices_per_second": round(count / elapsed, 1),
                "lines_per_second": round(lines / elapsed, 1),
                "rerun_seconds": round(rerun, 2),
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
