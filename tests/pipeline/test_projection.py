"""The projected invoice: with constant daily usage, the projection on day 10 equals the
invoice billed at the period's end to the cent, a graduated tier crossed after day 10, the
fixed fee and the tax included; extrapolating the amount instead would not."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.invoicing.projection import projected_invoice
from tests.support import run

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
  - {code: peak, event_name: api_request, aggregation: max, property: concurrency}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "10.00"}]
        charges:
          - metric: calls
            model: graduated
            tiers:
              - {up_to: 100, unit_price: "0.10"}
              - {up_to: null, unit_price: "0.05"}
          - {metric: peak, model: per_unit, unit_price: "1.00"}
customers:
  - {id: acme, name: Acme, tax_rate: "0.20", subscriptions: [{plan: pro, start: 2026-01-01}]}
"""


def calls(days: range) -> str:
    """5 calls a day, each at a concurrency of 3."""
    return "".join(
        json.dumps({"event_id": f"c{day}-{n}", "customer_id": "acme", "event_name": "api_request",
                    "timestamp": f"2026-10-{day:02d}T09:00:00Z", "properties": {"concurrency": "3"}})
        + "\n"
        for day in days
        for n in range(5)
    )  # fmt: skip


def test_day_10_projects_the_final_invoice_to_the_cent(client, database, home, tmp_path, capsys):
    catalog, early, late = (tmp_path / name for name in ("c.yaml", "1.jsonl", "2.jsonl"))
    catalog.write_text(CATALOG)
    early.write_text(calls(range(1, 11)))
    late.write_text(calls(range(11, 32)))
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(early))
    applied = load_catalog(client, database, latest_catalog_version(client, database))

    projected = projected_invoice(client, database, applied, "acme", date(2026, 10, 10))
    usage = {line["code"]: line for line in projected["lines"] if line["kind"] == "usage"}
    # 50 calls in 10 days -> 155 in 31: 100 x 0.10 + 55 x 0.05; the peak stays 3
    assert (usage["calls"]["quantity"], usage["calls"]["amount"]) == ("155", "12.75")
    assert (usage["peak"]["quantity"], usage["peak"]["amount"]) == ("3", "3.00")
    assert (projected["status"], projected["tax"], projected["total"]) == (
        "projected", "5.15", "30.90",
    )  # fmt: skip
    run(capsys, "bill", "--period", "2026-10")
    (so_far,) = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    (calls_so_far,) = [line for line in so_far["lines"] if line["code"] == "calls"]
    extrapolated = Decimal(calls_so_far["amount"]) * 31 / 10  # 5.00 -> 15.50: wrong
    assert extrapolated == Decimal("15.5") != Decimal(usage["calls"]["amount"])

    run(capsys, "ingest", str(late))
    run(capsys, "bill", "--period", "2026-10")
    (final,) = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert projected == final | {"status": "projected"}
