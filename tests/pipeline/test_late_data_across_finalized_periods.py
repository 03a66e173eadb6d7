"""Late data after two finalized periods (issue 12's two cases, through the CLI).

October and November are billed and finalized; December carries their corrections. A
finalized November that carried an adjustment for October is not refunded that adjustment
when November is re-rated, and late October usage that uses up more of a prepaid grant
raises November's amount through the grant's smaller balance.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from billing_dagster.cli.main import main as billing

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: p
    name: P
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]
customers:
  - {id: a, name: A, subscriptions: [{plan: p, start: 2026-10-01}]}
  - {id: b, name: B, subscriptions: [{plan: p, start: 2026-10-01}]}
  - {id: c, name: C, subscriptions: [{plan: p, start: 2026-10-01}]}
credit_grants:
  - {id: g, customer: c, amount: "20.00", effective: 2026-10-01, expires: null}
"""


def calls(path: Path, customer: str, month: str, count: int, first: int = 0) -> Path:
    """`count` API calls of `customer` in `month`, numbered from `first`."""
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"{customer}-{month}-{n}",
                    "customer_id": customer,
                    "event_name": "api_request",
                    "timestamp": f"{month}-{1 + n % 28:02d}T10:00:00Z",
                }
            )
            + "\n"
            for n in range(first, first + count)
        )
    )
    return path


def run(capsys, *args: str) -> str:
    code = billing(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    return out


def documents(capsys, command: str, period: str) -> list[dict]:
    return json.loads(run(capsys, command, "--period", period, "--format", "json"))


def amounts(invoices: list[dict]) -> dict[str, list[tuple]]:
    """Per customer, each line's kind, code and amount, then the total."""
    return {
        i["customer_id"]: [(line["kind"], line["code"], line["amount"]) for line in i["lines"]]
        + [("total", None, i["total"])]
        for i in invoices
    }


def test_corrections_of_two_finalized_periods_bill_exactly_what_changed(
    database, home, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("BILLING_FINALIZE_GRACE_DAYS", "0")
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    run(
        capsys,
        "ingest",
        str(calls(tmp_path / "a-oct.jsonl", "a", "2026-10", 10)),
        str(calls(tmp_path / "c-oct.jsonl", "c", "2026-10", 10)),
    )
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    # Five more October calls of a arrive late, with November's usage.
    run(
        capsys,
        "ingest",
        str(calls(tmp_path / "a-nov.jsonl", "a", "2026-11", 10)),
        str(calls(tmp_path / "c-nov.jsonl", "c", "2026-11", 15)),
        str(calls(tmp_path / "a-oct-late.jsonl", "a", "2026-10", 5, first=10)),
    )
    run(capsys, "bill", "--period", "2026-11")
    run(capsys, "finalize", "--period", "2026-11")
    november = amounts(documents(capsys, "invoices", "2026-11"))
    assert november["a"] == [
        ("usage", "calls", "10.00"),
        ("adjustment", "2026-10", "5.00"),
        ("total", None, "15.00"),
    ]
    # c's grant of 20.00 paid October's 10.00 and 10.00 of November's 15.00.
    assert november["c"] == [
        ("usage", "calls", "15.00"),
        ("credit", "g", "-10.00"),
        ("total", None, "5.00"),
    ]
    frozen = {p: documents(capsys, "invoices", p) for p in ("2026-10", "2026-11")}

    # One late November call of b: b is adjusted by 1.00, and nothing else changes (a's
    # November is not refunded the October adjustment it carried).
    run(capsys, "ingest", str(calls(tmp_path / "b-nov-late.jsonl", "b", "2026-11", 1)))
    run(capsys, "bill", "--period", "2026-12")
    december = amounts(documents(capsys, "invoices", "2026-12"))
    assert december == {
        "a": [("usage", "calls", "0.00"), ("total", None, "0.00")],
        "b": [
            ("usage", "calls", "0.00"),
            ("adjustment", "2026-11", "1.00"),
            ("total", None, "1.00"),
        ],
        "c": [("usage", "calls", "0.00"), ("total", None, "0.00")],
    }
    assert documents(capsys, "credit-notes", "2026-12") == []

    # Five late October calls of c: October stays covered by the grant (total 0.00), but
    # the grant has 5.00 left for November instead of 10.00, so November owes 5.00 more.
    run(capsys, "ingest", str(calls(tmp_path / "c-oct-late.jsonl", "c", "2026-10", 5, first=10)))
    run(capsys, "bill", "--period", "2026-12")
    december_invoices = documents(capsys, "invoices", "2026-12")
    december = amounts(december_invoices)
    assert december["b"][-1] == ("total", None, "1.00")
    assert december["c"] == [
        ("usage", "calls", "0.00"),
        ("adjustment", "2026-11", "5.00"),
        ("total", None, "5.00"),
    ]
    [adjustment] = [line for line in december_invoices[2]["lines"] if line["kind"] == "adjustment"]
    assert (adjustment["billed_total"], adjustment["corrected_total"]) == ("5.00", "10.00")
    assert [
        (d["kind"], d["amount_billed"], d["amount_corrected"]) for d in adjustment["details"]
    ] == [("credit", "-10.00", "-5.00")]
    assert documents(capsys, "credit-notes", "2026-12") == []
    # Per customer, the invoices equal the calls at 1.00 each, less c's grant of 20.00:
    # a 25 calls, b 1, c 30.
    invoiced = {
        customer: sum(
            Decimal(i["total"])
            for p in ("2026-10", "2026-11", "2026-12")
            for i in documents(capsys, "invoices", p)
            if i["customer_id"] == customer
        )
        for customer in "abc"
    }
    assert invoiced == {"a": Decimal("25.00"), "b": Decimal("1.00"), "c": Decimal("10.00")}
    assert {p: documents(capsys, "invoices", p) for p in ("2026-10", "2026-11")} == frozen
