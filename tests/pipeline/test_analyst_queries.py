"""Analysts get the numbers finance bills (issue 14): the five queries of docs/analysts.md,
run as written, answer what `billing invoices` and `billing credit-notes` print after a
finalize, a void, late data and a re-bill; `billing dbt build` and `dbt docs generate`
succeed, and every column of every model is described."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from billing_dagster.cli.main import main as billing
from tests.conftest import REPO

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: usd
    name: USD
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD, charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]}
  - code: eur
    name: EUR
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: EUR, charges: [{metric: calls, model: per_unit, unit_price: "2.00"}]}
customers:
  - {id: acme, name: Acme, subscriptions: [{plan: usd, start: 2026-10-01}]}
  - {id: globex, name: Globex, subscriptions: [{plan: eur, start: 2026-10-01}]}
  - {id: initech, name: Initech, subscriptions: [{plan: usd, start: 2026-10-01}]}
"""
D = Decimal


def calls(path: Path, counts: dict[str, int], month: str, first: int = 0) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"{customer}-{month}-{n}",
                    "customer_id": customer,
                    "event_name": "api_request",
                    "timestamp": f"{month}-{n % 28 + 1:02d}T10:00:00Z",
                }
            )
            + "\n"
            for customer, count in counts.items()
            for n in range(first, first + count)
        )
    )
    return path


def run(capsys, *args: str) -> str:
    code = billing(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    return out


def documented_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", (REPO / "docs" / "analysts.md").read_text(), re.S)


def test_the_documented_queries_answer_what_billing_prints(
    database, client, home, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("BILLING_FINALIZE_GRACE_DAYS", "0")
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    october = {"acme": 5, "globex": 3, "initech": 4}
    run(capsys, "ingest", str(calls(tmp_path / "oct.jsonl", october, "2026-10")))
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    run(capsys, "void", "--invoice", "INV-2026-10-initech", "--reason", "sent twice")
    late = calls(tmp_path / "late.jsonl", {"acme": 1}, "2026-10", first=5)
    voided = tmp_path / "void.jsonl"  # globex's third October call voided: a credit note
    voided.write_text(
        json.dumps(
            {
                "event_id": "void-1",
                "customer_id": "globex",
                "event_name": "api_request",
                "timestamp": "2026-10-03T10:00:00Z",
                "replaces": "globex-2026-10-2",
                "void": True,
            }
        )
        + "\n"
    )
    november = calls(tmp_path / "nov.jsonl", {"acme": 2, "globex": 1}, "2026-11")
    run(capsys, "ingest", str(november), str(late), str(voided))
    run(capsys, "bill", "--period", "2026-11")
    run(capsys, "bill", "--period", "2026-11")  # re-billed: the latest run is in force

    invoices = [
        invoice
        for period in ("2026-10", "2026-11")
        for invoice in json.loads(run(capsys, "invoices", "--period", period, "--format", "json"))
    ]
    notes = json.loads(run(capsys, "credit-notes", "--period", "2026-11", "--format", "json"))
    assert [n["total"] for n in notes] == ["2.00"]
    billed = [i for i in invoices if i["status"] != "void"]
    assert [i["status"] for i in invoices] == ["finalized", "finalized", "void"] + ["draft"] * 3

    answers = [
        client.query(query.replace("billing.", f"`{database}`.")).result_rows
        for query in documented_queries()
    ]
    assert len(answers) == 5
    by_period: dict[tuple, Decimal] = {}
    for i in billed:
        key = (i["period"], i["currency"])
        by_period[key] = by_period.get(key, D(0)) + D(i["total"])
    assert answers[0] == [(*key, total) for key, total in sorted(by_period.items())]
    assert answers[1] == [
        (i["invoice_id"], i["period"], i["status"], D(i["total"]))
        for i in invoices
        if i["customer_id"] == "acme"
    ]
    usage: dict[tuple, list[Decimal]] = {}
    for i in billed:
        for line in i["lines"]:
            if i["period"] == "2026-10" and line["kind"] == "usage":
                key = (line["plan"], line["plan_version"], line["code"], i["currency"])
                sums = usage.setdefault(key, [D(0), D(0)])
                sums[0] += D(line["quantity"])
                sums[1] += D(line["amount"])
    assert answers[2] == [(*key, *sums) for key, sums in sorted(usage.items())]
    assert answers[3] == [("2026-10", "EUR", D("-2.00")), ("2026-10", "USD", D("1.00"))]
    net: dict[tuple, Decimal] = {}
    for i in billed:
        key = (i["customer_id"], i["currency"])
        net[key] = net.get(key, D(0)) + D(i["total"])
    for note in notes:
        key = (note["customer_id"], note["currency"])
        net[key] -= D(note["total"])
    assert answers[4] == [(*key, total) for key, total in sorted(net.items())]

    # dbt by hand, on this home's warehouse; every model and column is described.
    run(capsys, "dbt", "build")
    run(capsys, "dbt", "docs", "generate")
    artifacts = home / "dbt" / "manual"
    manifest = json.loads((artifacts / "manifest.json").read_text())
    catalog = json.loads((artifacts / "catalog.json").read_text())
    undescribed, parameterized = [], []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        if not node["description"].strip():
            undescribed.append(node["name"])
        documented = {
            name for name, column in node["columns"].items() if column["description"].strip()
        }
        if unique_id not in catalog["nodes"]:  # a parameterized view: no columns without them
            parameterized.append(node["name"])
            continue
        built = set(catalog["nodes"][unique_id]["columns"])
        undescribed += [f"{node['name']}.{column}" for column in sorted(built - documented)]
    assert undescribed == []
    assert sorted(parameterized) == [
        "fct_projected_rated_usage",
        "fct_subscription_usage_projected",
    ]
    # The marts Python reads by column keep their columns and types, or dbt refuses to build.
    enforced = sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["contract"]["enforced"]
    )
    assert enforced == [
        "fct_metric_usage_daily",
        "fct_rated_usage",
        "fct_rated_usage_tiers",
        "fct_subscription_usage",
    ]
