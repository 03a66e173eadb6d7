"""Alerts and webhooks: what they cost after metering, and how fast a live crossing arrives.

1. 10,000 customers with usage past 3 thresholds each: the metering run of one day
   (`billing backfill`, which runs `metering_job`: dbt, then the asset `usage_alerts`)
   without alert rules, then with a rule of 3 thresholds for every customer: the first run
   triggers 30,000 alerts, the next ones find nothing new. Then one new event for every
   customer, loaded and metered (`billing ingest`), without and with the rules: every
   customer's figures change, so every one is evaluated.
2. `billing serve` with a webhook endpoint (a local receiver): the time from posting an
   event that crosses a threshold to the signed `alert.triggered` arriving, p50/p95; and
   from posting an event that reaches a spending cap to the customer's hard-limited
   feature answering `spending_cap`.

Run from benchmarks/: `../.venv/bin/python alerts.py [--customers 10000] [--samples 20]`
(`--samples 0` skips part 2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from api import Client, catalog_text, cli, percentiles, serving

RULES = """\
alerts:
  - {id: calls, customer: "*", feature: calls, thresholds: ["5", "10", "20"]}
  - {id: tokens, customer: "*", feature: tokens, thresholds: ["100"]}
  - {id: cap, customer: "*", feature: tokens, thresholds: ["1000"], spending_cap: true}
"""


class Receiver(ThreadingHTTPServer):
    """Notes when each customer's alert.triggered arrives."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.changed:
            self.server.arrived.setdefault(event["data"]["customer_id"], time.perf_counter())
            self.server.changed.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def timed(*args: str) -> float:
    started = time.perf_counter()
    cli(*args)
    return time.perf_counter() - started


def metering_cost(home: Path, customers: int) -> None:
    catalog = home.parent / f"{home.name}-catalog.yaml"
    catalog.write_text(catalog_text(customers))
    cli("catalog", "apply", str(catalog))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = home.parent / f"{home.name}-events.jsonl"
    with events.open("w") as out:
        for number in range(customers):
            for call in range(20):
                out.write(json.dumps({"event_id": f"e{number}-{call}", "customer_id":
                                      f"c{number:05d}", "event_name": "api_request",
                                      "timestamp": stamp}) + "\n")  # fmt: skip
    started = time.perf_counter()
    cli("ingest", str(events))
    print(f"{customers * 20:,} events of {customers:,} customers loaded and metered in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    day = stamp[:10]
    without = [timed("backfill", "--from", day, "--to", day) for _ in range(3)]
    catalog.write_text(catalog_text(customers) + RULES)
    cli("catalog", "apply", str(catalog))
    first = timed("backfill", "--from", day, "--to", day)
    alerts = len(json.loads(cli("alerts", "--format", "json")))
    steady = [timed("backfill", "--from", day, "--to", day) for _ in range(3)]
    base = sorted(without)[1]
    print(f"metering run of the day: {', '.join(f'{t:.1f}' for t in without)} s without "
          f"alert rules; with {customers:,} customers x 3 thresholds: first {first:.1f} s "
          f"({alerts:,} alerts triggered, {first / base - 1:+.0%}), then "
          f"{', '.join(f'{t:.1f}' for t in steady)} s "
          f"({sorted(steady)[1] / base - 1:+.0%} at the median)", flush=True)  # fmt: skip
    # Every customer's figures change: one new event each, loaded and metered (`ingest`).
    rules = catalog.read_text()
    timings = {}
    for label, text in (("without", catalog_text(customers)), ("with", rules)) * 2:
        catalog.write_text(text)
        cli("catalog", "apply", str(catalog))
        cli("backfill", "--from", day, "--to", day)  # the new catalog's first run
        batch = home.parent / f"{home.name}-{label}-{len(timings.get(label, []))}.jsonl"
        batch.write_text("".join(json.dumps({"event_id": f"{batch.stem}-{n}", "customer_id":
                                             f"c{n:05d}", "event_name": "api_request",
                                             "timestamp": stamp}) + "\n"
                                 for n in range(customers)))  # fmt: skip
        timings.setdefault(label, []).append(timed("ingest", str(batch)))
    print(f"one new event for each of {customers:,} customers, loaded and metered (ingest): "
          f"{', '.join(f'{t:.1f}' for t in timings['without'])} s without alert rules, "
          f"{', '.join(f'{t:.1f}' for t in timings['with'])} s with them "
          f"({min(timings['with']) / min(timings['without']) - 1:+.0%} best to best)",
          flush=True)  # fmt: skip


def live_delivery(home: Path, samples: int) -> None:
    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    cli("webhooks", "add", url, "--events", "alert.triggered")
    key = json.loads(cli("keys", "create", "--scope", "ingest"))["secret"]
    check = json.loads(cli("keys", "create", "--scope", "check"))["secret"]
    latencies, capped = [], []
    with serving(home) as (port, _):
        client, checker = Client(port, key), Client(port, check)
        for number in range(samples):
            customer = f"c{number:05d}"
            sent = post_tokens(client, customer, f"t{number}", "150")
            with receiver.changed:
                receiver.changed.wait_for(lambda c=customer: c in receiver.arrived, timeout=120)
            latencies.append(receiver.arrived[customer] - sent)
            sent = post_tokens(client, customer, f"cap{number}", "1000")
            path = f"/v1/customers/{customer}/entitlements/calls"
            while checker.call("GET", path)[1]["reason"] != "spending_cap":
                time.sleep(0.05)
            capped.append(time.perf_counter() - sent)
    receiver.shutdown()
    print(f"threshold crossed in live usage -> alert.triggered at the receiver: "
          f"{percentiles(latencies)} over {samples} events", flush=True)  # fmt: skip
    print(f"spending cap reached in live usage -> hard feature denied (spending_cap): "
          f"{percentiles(capped)} over {samples} events", flush=True)  # fmt: skip


def post_tokens(client: Client, customer: str, event_id: str, tokens: str) -> float:
    """POST one completion event; when it was sent."""
    event = {
        "event_id": event_id,
        "customer_id": customer,
        "event_name": "completion",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"tokens": tokens},
    }
    sent = time.perf_counter()
    assert client.call("POST", "/v1/events", json.dumps(event).encode())[0] == 202
    return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--home", type=Path, default=Path("/tmp/billing-bench-alerts"))
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    os.environ["BILLING_HOME"] = str(args.home)
    print(f"{args.customers:,} customers; 2 cores", flush=True)
    metering_cost(args.home, args.customers)
    if args.samples:
        live_delivery(args.home, args.samples)


if __name__ == "__main__":
    main()
