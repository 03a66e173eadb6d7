"""Benchmark: `billing serve` under load (`make bench-api`). Not a test: prints figures to
record in docs/benchmarks.md.

On a fresh home with K customers × 5 metered features (default 10,000):
1. start-up: from launch until the first entitlement answer (the cache is built from the
   warehouse);
2. entitlement checks paced at R per second (default 1,000) from 4 keep-alive clients over
   random customers and features: latency p50/p95/p99 and the rate reached;
3. ingestion: 4 clients sending 1,000-event batches back to back: events/s and latency per
   batch;
4. visibility: an accepted event in the entitlement answer (the live tail): p50/p95;
5. with `--exact`: the same events in exact usage with the Dagster daemon running the
   sensors (`dagster dev`), p50/p95 over a few events.
Run: `.venv/bin/python benchmarks/api.py [--customers 10000] [--seconds 20] [--exact]`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.settings import Settings
from billing_dagster.warehouse.connection import ClickHouseSettings

REPO = Path(__file__).resolve().parents[1]
FEATURES = ["calls", "tokens", "daily_images", "seats", "gpu_hourly"]


def catalog_text(customers: int) -> str:
    lines = [
        "metrics:",
        "  - {code: calls, event_name: api_request, aggregation: count}",
        "  - {code: tokens, event_name: completion, aggregation: sum, property: tokens}",
        "  - {code: images, event_name: image, aggregation: count}",
        "  - {code: seats, event_name: seat, aggregation: count_unique, property: user}",
        "  - {code: gpu, event_name: gpu_job, aggregation: sum, property: seconds}",
        "plans:",
        "  - code: api",
        "    name: API",
        "    versions:",
        "      - version: 1",
        "        effective_from: 2026-01-01",
        "        currency: USD",
        '        charges: [{metric: calls, model: per_unit, unit_price: "0.001"}]',
        "        entitlements:",
        "          - {feature: calls, limit: 100000000, enforcement: hard}",
        '          - {feature: tokens, limit: "5000000.5", enforcement: soft}',
        "          - {feature: daily_images, metric: images, limit: 500, enforcement: hard,"
        " period: day}",
        "          - {feature: seats, limit: null}",
        "          - {feature: gpu_hourly, metric: gpu, limit: 3600, enforcement: hard,"
        " period: hour}",
        "customers:",
    ]
    for number in range(customers):
        lines.append(f"  - {{id: c{number:05d}, name: Customer {number}, subscriptions: "
                     f"[{{plan: api, start: 2026-01-01}}]}}")  # fmt: skip
    return "\n".join(lines) + "\n"


def cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = billing(list(args))
    assert code == 0, args
    return out.getvalue()


@contextlib.contextmanager
def serving(home: Path) -> Iterator[tuple[int, float]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "billing_dagster.cli.main", "serve", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "BILLING_HOME": str(home)},
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield port, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(60)


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int, key: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


def percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.50):.1f} ms, p95 {at(0.95):.1f} ms, p99 {at(0.99):.1f} ms"


def checks(port: int, key: str, customers: int, rate: int, seconds: float) -> None:
    clients, per_client = 4, rate / 4
    latencies: list[float] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        client, rng = Client(port, key), random.Random(number)
        start = time.perf_counter()
        for i in range(int(per_client * seconds)):
            due = start + i / per_client
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            customer, feature = f"c{rng.randrange(customers):05d}", rng.choice(FEATURES)
            sent = time.perf_counter()
            status, _ = client.call("GET", f"/v1/customers/{customer}/entitlements/{feature}")
            assert status == 200, status
            with lock:
                latencies.append(time.perf_counter() - sent)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    elapsed = time.perf_counter() - began
    print(f"entitlement checks: {len(latencies)} at {len(latencies) / elapsed:.0f}/s "
          f"(asked {rate}/s): {percentiles(latencies)}")  # fmt: skip


def ingestion(port: int, key: str, customers: int, seconds: float) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    token = f"{time.time_ns():x}"  # event ids of this run only

    def run(number: int) -> None:
        client, deadline, batch = Client(port, key), time.perf_counter() + seconds, 0
        while time.perf_counter() < deadline:
            events = [
                {"event_id": f"{token}-{number}-{batch}-{i}",
                 "customer_id": f"c{i % customers:05d}",
                 "event_name": "api_request", "timestamp": now}
                for i in range(1000)
            ]  # fmt: skip
            body = json.dumps({"events": events}).encode()
            sent = time.perf_counter()
            status, answer = client.call("POST", "/v1/events/batch", body)
            assert status == 202 and answer["accepted"] == 1000, answer
            with lock:
                latencies.append(time.perf_counter() - sent)
            batch += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, range(4)))
    elapsed = time.perf_counter() - began
    print(f"ingestion, 4 clients: {len(latencies) * 1000 / elapsed:.0f} events/s "
          f"({len(latencies)} batches of 1,000 in {elapsed:.1f} s); per batch: "
          f"{percentiles(latencies)}")  # fmt: skip


def visibility(port: int, keys: dict, samples: int) -> None:
    check, ingest = Client(port, keys["check"]), Client(port, keys["ingest"])
    latencies = []
    for number in range(samples):
        customer = f"c{number:05d}"
        path = f"/v1/customers/{customer}/entitlements/daily_images"
        before = Decimal(check.call("GET", path)[1]["usage"])
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event = {"event_id": f"v{number}", "customer_id": customer, "event_name": "image",
                 "timestamp": now}  # fmt: skip
        sent = time.perf_counter()
        assert ingest.call("POST", "/v1/events", json.dumps(event).encode())[0] == 202
        while Decimal(check.call("GET", path)[1]["usage"]) <= before:
            pass
        latencies.append(time.perf_counter() - sent)
    print(f"accepted event visible in the entitlement answer: {percentiles(latencies)} "
          f"over {samples} events")  # fmt: skip


def in_exact_usage(warehouse, database: str, customer: str) -> bool:
    """Whether the customer's image counts in exact usage, read-only (a CLI command would
    meter by itself); False until the models_deployment sensor has deployed the views."""
    db = f"`{database}`"
    return bool(
        warehouse.command(f"EXISTS TABLE {db}.fct_entitlement_usage")
        and warehouse.command(
            f"SELECT count() FROM {db}.fct_entitlement_usage "
            f"WHERE customer_id = {{c:String}} AND feature = 'daily_images'",
            parameters={"c": customer},
        )
    )


def exact_visibility(home: Path, port: int, keys: dict, samples: int) -> None:
    """With `dagster dev` (webserver and daemon: the sensors load and meter), how long an
    accepted event takes to reach exact usage (`exact_through` moves and counts it)."""
    environment = {
        **os.environ,
        "BILLING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        ui_port = probe.getsockname()[1]
    dagster = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
         "--port", str(ui_port)],
        cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    settings = ClickHouseSettings.of(home, Settings.from_env().warehouse)
    warehouse = settings.client()
    try:
        latencies = []
        for number in range(samples):
            ingest = Client(port, keys["ingest"])  # a new connection: minutes pass between
            customer = f"c{9999 - number:05d}"
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            event = {"event_id": f"x{number}", "customer_id": customer, "event_name": "image",
                     "timestamp": now}  # fmt: skip
            sent = time.perf_counter()
            assert ingest.call("POST", "/v1/events", json.dumps(event).encode())[0] == 202
            while not in_exact_usage(warehouse, settings.database, customer):
                time.sleep(1)
            latencies.append(time.perf_counter() - sent)
            print(f"  event {number}: in exact usage after {latencies[-1]:.0f} s", flush=True)
        print(f"accepted event in exact usage (dagster dev running): "
              f"{percentiles(latencies)} over {samples} events")  # fmt: skip
    finally:
        dagster.terminate()
        dagster.wait(120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--exact", action="store_true")
    parser.add_argument("--home", type=Path, default=Path("/tmp/billing-bench-api"))
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    os.environ["BILLING_HOME"] = str(args.home)
    catalog = args.home.parent / f"{args.home.name}-catalog.yaml"
    catalog.write_text(catalog_text(args.customers))
    cli("catalog", "apply", str(catalog))
    keys = {
        scope: json.loads(cli("keys", "create", "--scope", scope))["secret"]
        for scope in ("check", "ingest")
    }
    print(f"{args.customers} customers x {len(FEATURES)} features; 2 cores", flush=True)
    with serving(args.home) as (port, listening):
        first = Client(port, keys["check"])
        while first.call("GET", "/v1/customers/c00000/entitlements/calls")[0] != 200:
            pass
        print(f"start-up: listening after {listening:.1f} s (cache built from the warehouse "
              f"before it listens)", flush=True)  # fmt: skip
        checks(port, keys["check"], args.customers, args.rate, args.seconds)
        ingestion(port, keys["ingest"], args.customers, args.seconds)
        visibility(port, keys, 20)
        if args.exact:
            exact_visibility(args.home, port, keys, 8)


if __name__ == "__main__":
    main()
