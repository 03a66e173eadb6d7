"""`make demo-api`: the billing API in a minute, told as a short story. On a home of its own
(`<billing home>-api`), it applies a small catalog (a search API with 5 searches a day,
hard), creates a key, starts `billing serve`, sends events over HTTP and shows the
entitlement answer move toward its limit, then `consume` refusing the one search too many.

Safe to run again: the home is emptied first.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.warehouse.connection import billing_home

CATALOG = """\
metrics:
  - {code: searches, event_name: search, aggregation: count}
plans:
  - code: starter
    name: Starter
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{metric: searches, model: per_unit, unit_price: "0.01"}]
        entitlements:
          - {feature: daily_searches, metric: searches, limit: 5, enforcement: hard, period: day}
          - {feature: sso, enabled: false}
customers:
  - {id: acme, name: Acme Corp, subscriptions: [{plan: starter, start: 2026-01-01}]}
"""


def cli(home: Path, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = billing([*args, "--home", str(home)])
    if code != 0:
        raise SystemExit(f"billing {' '.join(args)} failed")
    return out.getvalue()


class Api:
    def __init__(self, port: int, key: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        self.connection.request(method, path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


def search(number: int) -> dict:
    return {
        "event_id": f"search-{number}",
        "customer_id": "acme",
        "event_name": "search",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def main() -> None:
    home = Path(f"{billing_home()}-api")
    shutil.rmtree(home, ignore_errors=True)
    catalog = home.parent / f"{home.name}-catalog.yaml"
    home.mkdir(parents=True)
    catalog.write_text(CATALOG)
    cli(home, "catalog", "apply", str(catalog))
    key = json.loads(cli(home, "keys", "create", "--scope", "admin", "--name", "walkthrough"))
    print(f"1. Catalog applied on {home}: customer acme may make 5 searches a day (hard).")
    print(f"   Key {key['key_id']} created (scope admin); its secret is shown once only.")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "billing_dagster.cli.main", "serve", "--port", str(port)],
        env={**os.environ, "BILLING_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"2. billing serve listens on http://127.0.0.1:{port} (docs at /docs).")
        api = Api(port, key["secret"])
        check = "/v1/customers/acme/entitlements/daily_searches"
        print("3. Each search is sent with POST /v1/events, then checked:")
        searches = [search(number) for number in range(1, 7)]
        for number, event in enumerate(searches[:5], start=1):
            status, receipt = api.call("POST", "/v1/events", event)
            answer = api.call("GET", check)[1]
            print(f"   search {number}: {status} {receipt['status']}; usage {answer['usage']} of "
                  f"{answer['limit']}, may search again: {answer['has_access']} "
                  f"({answer['reason']})")  # fmt: skip
        status, refused = api.call("POST", f"{check}/consume", searches[5])
        print(f"4. POST .../consume with a 6th search: {status}, has_access "
              f"{refused['entitlement']['has_access']}; nothing was recorded.")  # fmt: skip
        status, again = api.call("POST", "/v1/events/batch", {"events": [searches[0]]})
        print(f"5. Resending search 1: {again['receipts'][0]['status']} "
              f"({again['receipts'][0]['reason']}).")  # fmt: skip
        print("6. `billing ingest` loads what the API stored (the landed_events sensor does it "
              "every 15 s under `make dev`); `billing entitlements --customer acme` then shows "
              "the same usage, exact.")  # fmt: skip
    finally:
        server.terminate()
        server.wait(60)
    cli(home, "ingest")
    exact = json.loads(cli(home, "entitlements", "--customer", "acme", "--format", "json"))
    daily = next(a for a in exact if a["feature"] == "daily_searches")
    print(f"   exact usage after metering: {daily['usage']} of {daily['limit']}.")
    cli(home, "warehouse", "stop")


if __name__ == "__main__":
    main()
