"""Billing on the customer's calendar (docs/invoicing.md, "Time zones"): the same instant
falls in different periods for customers in different zones, invoices say the period in
local time and in UTC, and a late event on a zoned customer's last local day reaches the
finalized period it belongs to as an adjustment."""

from __future__ import annotations

import json

import pytest

from tests.catalogs import calls_catalog
from tests.support import run

CATALOG = calls_catalog(
    [
        "{id: la, name: LA, timezone: America/Los_Angeles, "
        "subscriptions: [{plan: pro, start: 2026-01-01}]}",
        "{id: utc, name: UTC, subscriptions: [{plan: pro, start: 2026-01-01}]}",
    ]
)
ZONE_KEYS = ("timezone", "period_start", "period_end", "period_start_utc", "period_end_utc")
#: 31 October 2026, 23:30 in Los Angeles (PDT, UTC-7); 1 November, 06:30 in UTC.
HALF_PAST_23_IN_LA = "2026-11-01T06:30:00Z"


def ingest(capsys, path, *files: str) -> None:
    """`billing ingest` of one file holding these JSONL texts."""
    path.write_text("".join(files))
    run(capsys, "ingest", str(path))


def calls(customer: str, prefix: str, count: int, timestamp: str) -> str:
    return "".join(
        json.dumps({"event_id": f"{prefix}-{n}", "customer_id": customer,
                    "event_name": "api_request", "timestamp": timestamp}) + "\n"
        for n in range(count)
    )  # fmt: skip


@pytest.fixture
def zoned_catalog(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))


def invoices(capsys, period: str) -> dict[str, dict]:
    listed = json.loads(run(capsys, "invoices", "--period", period, "--format", "json"))
    return {invoice["customer_id"]: invoice for invoice in listed}


def usage_quantities(invoice: dict) -> list[str]:
    return [line["quantity"] for line in invoice["lines"] if line["kind"] == "usage"]


def test_23_30_on_the_last_local_day_is_billed_in_that_month_only_in_that_zone(
    zoned_catalog, tmp_path, capsys
):
    ingest(
        capsys,
        tmp_path / "events.jsonl",
        calls("la", "la", 3, HALF_PAST_23_IN_LA),
        calls("utc", "utc", 2, HALF_PAST_23_IN_LA),
    )
    for period in ("2026-10", "2026-11"):
        run(capsys, "bill", "--period", period)
    october, november = invoices(capsys, "2026-10"), invoices(capsys, "2026-11")

    # Los Angeles: 31 October, so October; UTC: 1 November, so November.
    assert (usage_quantities(october["la"]), october["la"]["total"]) == (["3"], "0.03")
    assert (usage_quantities(november["la"]), november["la"]["total"]) == (["0"], "0.00")
    assert (usage_quantities(october["utc"]), october["utc"]["total"]) == (["0"], "0.00")
    assert (usage_quantities(november["utc"]), november["utc"]["total"]) == (["2"], "0.02")

    # The period in local time and in UTC; November starts in PDT and ends in PST.
    assert {key: october["la"][key] for key in ZONE_KEYS} == {
        "timezone": "America/Los_Angeles",
        "period_start": "2026-10-01T00:00:00-07:00",
        "period_end": "2026-11-01T00:00:00-07:00",
        "period_start_utc": "2026-10-01T07:00:00Z",
        "period_end_utc": "2026-11-01T07:00:00Z",
    }
    assert (november["la"]["period_end"], november["la"]["period_end_utc"]) == (
        "2026-12-01T00:00:00-08:00",
        "2026-12-01T08:00:00Z",
    )
    # A UTC customer's invoice is as it always was: none of these fields.
    assert not set(ZONE_KEYS) & set(october["utc"])
    usage = json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
    assert [(row["customer_id"], row["quantity"]) for row in usage] == [("la", "3")]


def test_a_late_event_on_the_last_local_day_adjusts_the_finalized_month(
    zoned_catalog, tmp_path, capsys
):
    ingest(capsys, tmp_path / "on-time.jsonl", calls("la", "la", 1, "2026-10-15T12:00:00Z"))
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")

    # Stored under UTC day 1 November, it belongs to Los Angeles' 31 October.
    ingest(capsys, tmp_path / "late.jsonl", calls("la", "late", 4, HALF_PAST_23_IN_LA))
    status = json.loads(run(capsys, "status", "--format", "json"))
    assert status["adjustments"]["unbilled_late_periods"] == ["2026-10"]
    run(capsys, "bill", "--period", "2026-11")

    november = invoices(capsys, "2026-11")["la"]
    [adjustment] = [line for line in november["lines"] if line["kind"] == "adjustment"]
    assert (adjustment["billed_total"], adjustment["corrected_total"]) == ("0.01", "0.05")
    assert (adjustment["amount"], usage_quantities(november), november["total"]) == (
        "0.04",
        ["0"],
        "0.04",
    )
