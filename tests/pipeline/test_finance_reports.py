"""Finance reports from the dbt marts (issue 18): revenue per period, plan and currency
sums to the invoices less credit notes to the cent, provisional while a draft; MRR moves
as subscriptions start, change plan and end; top customers and usage spikes; health."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.finance_history import finance_history
from tests.support import cli, run

D = Decimal


def report(capsys, name: str, period: str) -> dict:
    return json.loads(run(capsys, "report", name, "--period", period, "--format", "json"))


def test_reports_answer_what_the_invoices_say(database, home, tmp_path, capsys, monkeypatch):
    finance_history(capsys, tmp_path, monkeypatch)
    for period in ("2026-10", "2026-11"):
        invoices = json.loads(run(capsys, "invoices", "--period", period, "--format", "json"))
        notes = json.loads(run(capsys, "credit-notes", "--period", period, "--format", "json"))
        expected: dict[str, Decimal] = {}
        for invoice in invoices:
            if invoice["status"] != "void":
                expected[invoice["currency"]] = expected.get(invoice["currency"], D(0)) + D(
                    invoice["total"]
                )
        for note in notes:
            expected[note["currency"]] -= D(note["total"])
        revenue = report(capsys, "revenue", period)
        assert {t["currency"]: D(t["revenue"]) for t in revenue["totals"]} == expected
        for currency in expected:
            plans = [p for p in revenue["by_plan"] if p["currency"] == currency]
            assert sum(D(p["revenue"]) for p in plans) == expected[currency]

    october = report(capsys, "revenue", "2026-10")
    assert october["totals"] == [
        {"currency": "EUR", "revenue": "16.00", "revenue_status": "final"},
        {"currency": "USD", "revenue": "174.00", "revenue_status": "final"},
    ]
    november = report(capsys, "revenue", "2026-11")
    assert november["totals"] == [
        {"currency": "EUR", "revenue": "2.67", "revenue_status": "provisional"},
        {"currency": "USD", "revenue": "890.00", "revenue_status": "provisional"},
    ]
    assert [
        (p["currency"], p["plan_code"], p["fixed_fees"], p["usage"], p["minimum_commitments"],
         p["adjustments"], p["credit_notes"], p["revenue"], p["invoices"])
        for p in november["by_plan"]
    ] == [
        ("EUR", "euro", "4.67", "0.00", "0.00", "0.00", "-2.00", "2.67", 1),
        ("USD", "pro", "200.00", "612.00", "45.00", "1.00", "0.00", "858.00", 2),
        ("USD", "starter", "30.00", "2.00", "0.00", "0.00", "0.00", "32.00", 2),
    ]  # fmt: skip
    assert november["trend"] == [
        {"period": "2026-10", "currency": "EUR", "revenue": "16.00", "revenue_status": "final"},
        {"period": "2026-11", "currency": "EUR", "revenue": "2.67", "revenue_status": "provisional"},
        {"period": "2026-10", "currency": "USD", "revenue": "174.00", "revenue_status": "final"},
        {"period": "2026-11", "currency": "USD", "revenue": "890.00", "revenue_status": "provisional"},
    ]  # fmt: skip

    mrr = report(capsys, "mrr", "2026-11")
    assert mrr["totals"] == [
        {"currency": "EUR", "mrr": "0.00", "previous_mrr": "10.00", "customers": 0,
         "new": "0.00", "expansion": "0.00", "contraction": "0.00", "churn": "-10.00",
         "new_customers": 0, "expansion_customers": 0, "contraction_customers": 0,
         "churn_customers": 1},
        {"currency": "USD", "mrr": "330.00", "previous_mrr": "320.00", "customers": 4,
         "new": "10.00", "expansion": "130.00", "contraction": "-130.00", "churn": "0.00",
         "new_customers": 1, "expansion_customers": 1, "contraction_customers": 1,
         "churn_customers": 0},
    ]  # fmt: skip
    assert [(m["customer_id"], m["movement"], m["change"]) for m in mrr["movements"]] == [
        ("globex", "churn", "-10.00"),
        ("umbrella", "contraction", "-130.00"),
        ("initech", "expansion", "130.00"),
        ("hooli", "new", "10.00"),
    ]

    top = report(capsys, "top-customers", "2026-11")
    assert [(t["rank"], t["customer_id"], t["revenue"]) for t in top["by_amount"]] == [
        (1, "globex", "2.67"),
        (1, "acme", "707.00"),
        (2, "initech", "151.00"),
        (3, "umbrella", "20.00"),
        (4, "hooli", "12.00"),
    ]
    assert [(t["customer_id"], t["events"]) for t in top["by_usage"]] == [
        ("acme", 1204),
        ("initech", 5),
        ("hooli", 2),
    ]

    spikes = report(capsys, "anomalies", "2026-11")["spikes"]
    assert spikes == [
        {"day": "2026-11-05", "customer_id": "acme", "metric": "calls", "events": 1200,
         "baseline": 1}
    ]  # fmt: skip
    assert report(capsys, "anomalies", "2026-10")["spikes"] == []

    health = report(capsys, "health", "2026-10")
    assert [(q["lines"]) for q in health["quarantine"]] == [1]
    assert health["documents"] == [
        {"document": "invoice", "status": "finalized", "sync_state": "not synced",
         "payment_status": "unknown", "documents": 3},
        {"document": "invoice", "status": "void", "sync_state": "not synced",
         "payment_status": "unknown", "documents": 1},
    ]  # fmt: skip

    text = run(capsys, "report", "revenue", "--period", "2026-11")
    assert text.startswith(
        "Revenue of 2026-11: EUR 2.67 (provisional: the period is a draft), "
        "USD 890.00 (provisional: the period is a draft)\n"
    )
    assert cli(capsys, "report", "mrr", "--period", "2026-13")[2] == (
        "billing: --period '2026-13': expected a month as YYYY-MM, e.g. 2026-10\n"
    )
