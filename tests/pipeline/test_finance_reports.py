"""Finance reports from the dbt marts (issue 18): revenue per period, plan and currency
sums to the invoices less credit notes to the cent, provisional while a draft; MRR moves
as subscriptions start, change plan and end; top customers and usage spikes; health."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_dagster.reports import finance
from billing_dagster.reports.finance import NAMES, ReportUnavailable
from tests.api_client import get, serving
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

    assert_http_answers_the_same(capsys, home)

    text = run(capsys, "report", "revenue", "--period", "2026-11")
    assert text.startswith(
        "Revenue of 2026-11: EUR 2.67 (provisional: the period is a draft), "
        "USD 890.00 (provisional: the period is a draft)\n"
    )
    assert cli(capsys, "report", "mrr", "--period", "2026-13")[2] == (
        "billing: --period '2026-13': expected a month as YYYY-MM, e.g. 2026-10\n"
    )


def assert_http_answers_the_same(capsys, home) -> None:
    """`/v1/reports/...` answers the CLI's JSON to a company key, and nothing to a key bound
    to a customer; the pages ask a browser to sign in, and the key it signs in with becomes
    an HttpOnly cookie."""
    reader = json.loads(run(capsys, "keys", "create", "--scope", "read"))["secret"]
    bound = json.loads(run(capsys, "keys", "create", "--scope", "read", "--customer", "acme"))
    ingest = json.loads(run(capsys, "keys", "create", "--scope", "ingest"))
    portal_token = json.loads(run(capsys, "portal-url", "--customer", "acme"))["url"].rsplit(
        "/", 1
    )[1]
    (october,) = [
        i
        for i in json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
        if i["customer_id"] == "acme"
    ]
    with serving(home) as (_, base):
        # a finalized period's amounts in the portal are its finalized invoice's
        assert get(f"{base}/v1/portal/amounts?period=2026-10", portal_token)[2] == {
            "period": "2026-10",
            "basis": "finalized invoice",
            "currency": "USD",
            "charges": "120.50",
            "lines": [{"code": "calls", "group": None, "quantity": "31", "amount": "20.50"}],
        }
        assert october["charges"] == "120.50"
        for name in NAMES:
            status, _, answer = get(f"{base}/v1/reports/{name}?period=2026-11", reader)
            assert (status, answer) == (200, report(capsys, name, "2026-11"))
        assert get(f"{base}/v1/reports/revenue?period=2026-11")[0] == 401
        assert get(f"{base}/v1/reports/revenue?period=2026-11", ingest["secret"])[2] == {
            "detail": f"API key {ingest['key_id']} has scope ingest, not read"
        }
        assert get(f"{base}/v1/reports/revenue?period=2026-11", bound["secret"])[2] == {
            "detail": f"API key {bound['key_id']} is bound to customer 'acme'; finance "
            f"reports need a key of the whole company"
        }
        assert get(f"{base}/v1/reports/profit?period=2026-11", reader)[0] == 422
        assert get(f"{base}/v1/reports/revenue?period=2019-12", reader)[0] == 422
        # an answer is kept only until the pipeline writes again: here, a void
        october = f"{base}/v1/reports/revenue?period=2026-10"
        assert get(october, reader)[2]["totals"][1]["revenue"] == "174.00"
        run(capsys, "void", "--invoice", "INV-2026-10-acme", "--reason", "goodwill")
        assert get(october, reader)[2]["totals"][1]["revenue"] == "24.00"

        status, _, html = page(f"{base}/finance/revenue?period=2026-11")
        assert status == 200 and 'action="/finance/sign-in"' in html
        status, headers, _ = page(f"{base}/finance/sign-in", {"key": "bk_wrong_secret"})
        assert status == 401
        status, headers, _ = page(f"{base}/finance/sign-in", {"key": reader})
        assert status == 303 and headers["location"] == "/finance/revenue"
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/finance" in cookie
        status, headers, html = page(
            f"{base}/finance/revenue?period=2026-11", cookie=cookie.split(";")[0]
        )
        assert status == 200 and headers["cache-control"] == "no-store"
        assert 'data-currency="USD" data-revenue="890.00"' in html


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_):
        return None


def page(url: str, form: dict | None = None, cookie: str = "") -> tuple[int, dict, str]:
    """Status, headers (lower-case names) and body of a page, or of a form posted to it;
    redirects are answers, not followed."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(_NoRedirects).open(request) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def test_a_report_before_the_marts_are_deployed_says_how_to_deploy_them(client, database):
    with pytest.raises(ReportUnavailable) as refused:
        finance.report(client, database, "revenue", "2026-11", datetime.now(UTC))
    assert str(refused.value) == (
        "the finance marts are not deployed (fct_customer_revenue, fct_mrr, fct_revenue, "
        "fct_usage_anomalies); run `billing bill --period PERIOD` or `billing ingest` once, "
        "which deploys them"
    )


def test_usage_over_http_before_the_views_are_deployed_says_so(database, home, capsys):
    reader = json.loads(run(capsys, "keys", "create", "--scope", "read"))["secret"]
    with serving(home) as (_, base):
        status, _, answer = get(f"{base}/v1/customers/acme/usage?period=2026-11", reader)
    assert (status, answer["detail"]) == (
        503,
        "nothing metered yet: the dbt views are not deployed",
    )
