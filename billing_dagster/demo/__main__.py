"""`make demo`: the sample catalog and a month of sample events, through the real pipeline,
ending with that month's invoices.

Runs the same `billing` commands a user would, against the billing home, and prints what
they print. Safe to run again: the catalog and the event file are the same, so nothing is
loaded twice.
"""

from __future__ import annotations

import calendar
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.demo.events import sample_month
from billing_dagster.warehouse.connection import billing_home

CATALOG = Path(__file__).with_name("sample_catalog.yaml")


def previous_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


#: The sample catalog's dates that belong to the demo month: a plan change on the 15th and a
#: promotional grant for the month. They move with the month billed, so every run shows them.
SAMPLE_MONTH = "2026-10"


def catalog_for(period: str, directory: Path) -> Path:
    """The sample catalog with its month-specific dates moved into `period`."""
    year, month = map(int, period.split("-"))
    last_day = calendar.monthrange(year, month)[1]
    text = CATALOG.read_text().replace(f"{SAMPLE_MONTH}-31", f"{period}-{last_day:02d}")
    path = directory / f"catalog-{period}.yaml"
    path.write_text(text.replace(f"{SAMPLE_MONTH}-", f"{period}-"))
    return path


def run(*args: str) -> None:
    print(f"\n$ billing {' '.join(args)}", flush=True)
    code = billing(list(args))
    sys.stdout.flush()
    if code != 0:
        raise SystemExit(f"demo stopped: `billing {' '.join(args)}` exited with {code}")


def main() -> None:
    home = billing_home()
    period = previous_month(datetime.now(UTC).date())
    events = home / "demo" / f"events-{period}.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    lines = sample_month(period)
    events.write_text("\n".join(lines) + "\n")
    print(f"Billing home: {home}\nSample events: {events} ({len(lines)} lines)")
    run("catalog", "apply", str(catalog_for(period, events.parent)))
    run("ingest", str(events))
    run("usage", "--period", period)
    run("bill", "--period", period)
    run("invoices", "--period", period)
    run("credits", "--customer", "umbrella")


if __name__ == "__main__":
    main()
