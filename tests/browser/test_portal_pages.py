"""The portal in a real browser (Chromium through Playwright): each page renders without a
console error, shows the figures `billing usage`, `billing credits` and `billing invoices`
print, has a bar per day of usage, and prints. `PORTAL_SCREENSHOTS=docs` saves the pages' screenshots
there (docs/portal-*.png)."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.api_client import serving
from tests.catalogs import PORTAL_CATALOG, portal_events
from tests.support import run


def test_the_portal_shows_the_clis_figures(
    database, home, tmp_path, capsys, page: Page, console_errors, screenshots
):
    catalog, path = tmp_path / "catalog.yaml", tmp_path / "events.jsonl"
    catalog.write_text(PORTAL_CATALOG)
    path.write_text(portal_events())
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(path))
    run(capsys, "bill", "--period", "2026-10")
    (usage,) = [
        row
        for row in json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
        if row["customer_id"] == "acme"
    ]
    (invoice,) = [
        i
        for i in json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
        if i["customer_id"] == "acme"
    ]
    credits = json.loads(
        run(capsys, "credits", "--customer", "acme", "--period", "2026-10", "--format", "json")
    )

    with serving(home) as (_, base):
        link = json.loads(run(capsys, "portal-url", "--customer", "acme", "--base-url", base))
        page.goto(f"{link['url']}?period=2026-10")
        expect(page.locator("h1")).to_have_text("Acme · 2026-10")
        usage_row = page.locator("table").first.locator("tr").nth(1).locator("td")
        (line,) = [line for line in invoice["lines"] if line["kind"] == "usage"]
        expect(usage_row).to_have_text(["calls", "", usage["quantity"], line["amount"]])
        expect(page.locator("[data-charges]")).to_have_text(f"USD {invoice['charges']}")
        bars = page.locator("svg rect")
        expect(bars).to_have_count(3)
        assert [bars.nth(n).get_attribute("data-day") for n in range(3)] == [
            "2026-10-01", "2026-10-02", "2026-10-03",
        ]  # fmt: skip
        credit_rows = page.locator("h2:text-is('Credits') + table").locator("tr")
        assert [credit_rows.nth(n + 1).locator("td").all_inner_texts() for n in range(
            len(credits))] == [
            [c["grant"], c["amount"], c["used"], c["balance"], c["expires"] or "never"]
            for c in credits
        ]  # fmt: skip
        expect(page.get_by_role("link", name=invoice["invoice_id"])).to_be_visible()
        expect(page.get_by_text(invoice["total"], exact=True)).to_be_visible()
        page.screenshot(path=screenshots / "portal-overview.png", full_page=True)

        page.get_by_role("link", name=invoice["invoice_id"]).click()
        expect(page.locator("h1")).to_have_text(f"Invoice {invoice['invoice_id']}")
        totals = page.locator("table").nth(1)
        expect(totals.locator("tr").last).to_have_text(f"Total{invoice['total']}")
        page.emulate_media(media="print")
        page.screenshot(path=screenshots / "portal-invoice.png", full_page=True)
    assert console_errors == []
