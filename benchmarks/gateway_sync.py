"""Benchmark: syncing N finalized invoices to a gateway's fake server (those of the tests).

Not a test: prints figures to record in docs/benchmarks.md. The finalized invoices (USD with
seven lines, EUR with three, JPY with two, in turn; Razorpay gets INR for EUR and JPY) are
written straight into the warehouse, then one `sync_period` pushes them all through the real
SDK (Stripe, Chargebee or Razorpay) to its fake server, with the ledger in the embedded
warehouse; a second run then finds everything in the ledger and sends nothing. Run:
`.venv/bin/python benchmarks/gateway_sync.py --invoices 1000 --gateway chargebee`.
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
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from billing_dagster.gateways.config import GatewayCredentials, Gateways, make_gateway  # noqa: E402
from billing_dagster.gateways.retry import RetryPolicy  # noqa: E402
from billing_dagster.gateways.sync import sync_period  # noqa: E402
from billing_dagster.warehouse import embedded  # noqa: E402
from billing_dagster.warehouse.connection import ClickHouseSettings  # noqa: E402
from billing_dagster.warehouse.schema import ensure_schema  # noqa: E402
from testbed import fake_chargebee, fake_razorpay, fake_stripe  # noqa: E402
from testbed.documents import three_currencies, write_finalized  # noqa: E402

PERIOD = "2026-10"


FAKES = {"stripe": fake_stripe, "chargebee": fake_chargebee, "razorpay": fake_razorpay}
#: Razorpay invoices in neither EUR nor JPY: those templates become INR.
CURRENCIES = {"razorpay": {"EUR": "INR", "JPY": "INR"}}


def credentials(gateway: str, url: str) -> GatewayCredentials:
    return {
        "stripe": GatewayCredentials(stripe_api_key="sk_test_bench", stripe_api_base=url),
        "chargebee": GatewayCredentials(
            chargebee_api_key="bench", chargebee_site="bench", chargebee_api_base=url
        ),
        "razorpay": GatewayCredentials(
            razorpay_key_id="rzp_bench", razorpay_key_secret="bench", razorpay_api_base=url
        ),
    }[gateway]


def invoices(count: int, gateway: str) -> list[dict]:
    swap = CURRENCIES.get(gateway, {})
    templates = [
        i | {"currency": swap.get(i["currency"], i["currency"])} for i in three_currencies(PERIOD)
    ]
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
    parser.add_argument("--gateway", choices=sorted(FAKES), default="stripe")
    arguments = parser.parse_args()
    count, gateway = arguments.invoices, arguments.gateway
    home = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    endpoint = embedded.ensure_running(home, idle_timeout_s=0)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        with FAKES[gateway].start(stderr=subprocess.DEVNULL) as url:
            sync_all(endpoint, database, gateway, url, count)
    finally:
        embedded.stop(home)


def sync_all(endpoint, database: str, name: str, url: str, count: int) -> None:
    """Sync `count` finalized invoices, then again; print the figures."""
    client = ClickHouseSettings.embedded(endpoint, database).client()
    ensure_schema(client, database)
    documents = invoices(count, name)
    write_finalized(client, database, PERIOD, documents)
    gateway = Gateways.only(make_gateway(name, credentials(name, url)))
    retry = RetryPolicy()
    started = time.perf_counter()
    summary = sync_period(client, database, gateway, PERIOD, retry)
    elapsed = time.perf_counter() - started
    assert len(summary.synced) == count and not summary.failed, summary.failed[:3]
    held = _objects(url)
    started = time.perf_counter()
    again = sync_period(client, database, gateway, PERIOD, retry)
    rerun = time.perf_counter() - started
    assert len(again.already_synced) == count
    assert _objects(url) == held, "the re-run changed what the gateway holds"
    lines = sum(len(i["lines"]) for i in documents)
    print(
        json.dumps(
            {
                "gateway": name,
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


def _objects(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_config/objects") as response:
        return json.load(response)


if __name__ == "__main__":
    main()
