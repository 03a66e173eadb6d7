"""Finance's pages in a real browser (Chromium through Playwright): a `read` key signs in
through the form, each report renders without a console error and shows the figures of
`billing report NAME --format json`, and the trend charts have one bar per period.
`PORTAL_SCREENSHOTS=docs` saves each page's screenshot there (docs/finance-*.png)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from billing_dagster.reports.finance import NAMES, REVENUE_COLUMNS
from tests.api_client import serving
from tests.finance_history import finance_history
from tests.support import run


def report(capsys, name: str) -> dict:
    return json.loads(run(capsys, "report", name, "--period", "2026-11", "--format", "json"))


def cells(page: Page, table: int) -> list[list[str]]:
    """The text of each row of the page's `table`-th table, header row left out."""
    rows = page.locator("table").nth(table).locator("tr")
    return [rows.nth(n).locator("td").all_inner_texts() for n in range(1, rows.count())]


def test_finance_pages_show_the_reports(
    database, home, tmp_path, capsys, monkeypatch, page: Page, console_errors, screenshots
):
    finance_history(capsys, tmp_path, monkeypatch)
    reports = {name: report(capsys, name) for name in NAMES}
    reader = json.loads(run(capsys, "keys", "create", "--scope", "read"))["secret"]

    with serving(home) as (_, base):
        page.goto(f"{base}/finance")
        expect(page.locator("h1")).to_have_text("Finance")
        page.get_by_label("API key").fill(reader)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text(re.compile(r"^Revenue · \d{4}-\d{2}$"))

        page.goto(f"{base}/finance/revenue?period=2026-11")
        revenue = reports["revenue"]
        for total in revenue["totals"]:
            expect(page.locator(f'li[data-currency="{total["currency"]}"]')).to_have_attribute(
                "data-revenue", total["revenue"]
            )
        usd = page.locator('svg[aria-label="revenue per period, USD"] rect')
        assert [(usd.nth(n).get_attribute("data-period"), usd.nth(n).get_attribute(
            "data-revenue")) for n in range(usd.count())] == [
            (t["period"], t["revenue"]) for t in revenue["trend"] if t["currency"] == "USD"
        ]  # fmt: skip
        assert cells(page, 0) == [
            [str(row[c]) for c in REVENUE_COLUMNS] for row in revenue["by_plan"]
        ]
        page.screenshot(path=screenshots / "finance-revenue.png", full_page=True)

        page.get_by_role("link", name="MRR").click()
        mrr = reports["mrr"]
        assert cells(page, 0) == [
            [t[c] for c in ("currency", "previous_mrr", "new", "expansion", "contraction",
                            "churn", "mrr")]
            for t in mrr["totals"]
        ]  # fmt: skip
        assert cells(page, 1) == [
            [m[c] for c in ("customer_id", "currency", "movement", "previous_mrr", "mrr",
                            "change")]
            for m in mrr["movements"]
        ]  # fmt: skip
        bars = page.locator('svg[aria-label="mrr per period, USD"] rect')
        expect(bars).to_have_count(len([t for t in mrr["trend"] if t["currency"] == "USD"]))
        page.screenshot(path=screenshots / "finance-mrr.png", full_page=True)

        page.get_by_role("link", name="Top customers").click()
        top = reports["top-customers"]
        columns = ("rank", "customer_id", "currency", "revenue", "revenue_status", "events")
        assert cells(page, 0) == [[str(row[c]) for c in columns] for row in top["by_amount"]]
        assert cells(page, 1) == [[str(row[c]) for c in columns] for row in top["by_usage"]]
        page.screenshot(path=screenshots / "finance-top-customers.png", full_page=True)

        page.get_by_role("link", name="Usage anomalies").click()
        assert cells(page, 0) == [
            [str(s[c]) for c in ("day", "customer_id", "metric", "events", "baseline")]
            for s in reports["anomalies"]["spikes"]
        ]
        page.screenshot(path=screenshots / "finance-anomalies.png", full_page=True)

        page.get_by_role("link", name="Health").click()
        health = reports["health"]
        assert cells(page, 0) == [
            [q["reason"], str(q["lines"]), str(q["last_7_days"])] for q in health["quarantine"]
        ]
        assert cells(page, 1) == [
            [str(d[c]) for c in ("document", "status", "sync_state", "payment_status",
                                 "documents")]
            for d in health["documents"]
        ]  # fmt: skip
        page.screenshot(path=screenshots / "finance-health.png", full_page=True)

        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("h1")).to_have_text("Finance")
    assert console_errors == []
