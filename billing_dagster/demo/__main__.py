"""`make demo`: the sample catalog and a month of sample events, through the real pipeline,
told as a short story: what was loaded, what was billed, which data checks warned, and what
to try next. Every step's own output (Dagster's and dbt's logs) goes to a log file it names.

It runs the same `billing` commands a user would, against the billing home. Safe to run
again: the catalog and the event file are the same, so nothing is loaded twice.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.demo.events import sample_month
from billing_dagster.formatting import table
from billing_dagster.warehouse.connection import billing_home

CATALOG = Path(__file__).with_name("sample_catalog.yaml")
STEPS = 5


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


class Story:
    """Numbered steps on the terminal; each command's own output in the log file."""

    def __init__(self, log: Path):
        self.log = log
        self.number = 0
        self.terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)

    def say(self, text: str = "") -> None:
        print(text, file=self.terminal)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.terminal.write(f"[{self.number}/{STEPS}] {title} ... ")
        self.terminal.flush()
        started = time.monotonic()
        yield
        self.say(f"done in {time.monotonic() - started:.0f} s")

    def run(self, *args: str) -> str:
        """`billing ARGS` with its stderr (logs) in the log file; returns its stdout."""
        out = io.StringIO()
        with open(self.log, "a") as log, _stderr_to(log), contextlib.redirect_stdout(out):
            print(f"\n$ billing {' '.join(args)}", file=sys.stderr, flush=True)
            code = billing(list(args))
        if code != 0:
            self.say("failed")
            raise SystemExit(
                f"demo stopped: `billing {' '.join(args)}` exited with {code}; see {self.log}"
            )
        return out.getvalue()


@contextlib.contextmanager
def _stderr_to(log) -> Iterator[None]:
    """Send file descriptor 2 to `log`: Dagster, dbt and their subprocesses write there."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        with contextlib.redirect_stderr(log):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def main() -> None:
    home = billing_home()
    period = previous_month(datetime.now(UTC).date())
    directory = home / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    story = Story(directory / "demo.log")
    story.log.write_text("")
    story.say(f"Billing demo: Nimbus AI bills {period} (billing home {home})")
    story.say(f"Dagster's and dbt's logs go to {story.log}\n")

    with story.step("Applying the sample catalog"):
        applied = json.loads(story.run("catalog", "apply", str(catalog_for(period, directory))))
    story.say(
        f"      {applied['metrics']} metrics, {applied['plans']} plans, "
        f"{applied['customers']} customers (catalog version {applied['catalog_version']})"
    )

    events = directory / f"events-{period}.jsonl"
    lines = sample_month(period)
    events.write_text("\n".join(lines) + "\n")
    with story.step(f"Loading {len(lines):,} sample events and metering them"):
        loaded = json.loads(story.run("ingest", str(events)))
    story.say(
        f"      {loaded['accepted']:,} accepted, {loaded['duplicates']:,} duplicates never "
        f"billed, {loaded['quarantined']:,} bad lines in quarantine with their reason"
    )

    with story.step(f"Billing {period}: rating usage and writing draft invoices"):
        story.run("bill", "--period", period)
        invoices = json.loads(story.run("invoices", "--period", period, "--format", "json"))
    with story.step("Reading the data-quality checks"):
        status = json.loads(story.run("status", "--format", "json"))
    with story.step("Reading the credit balances of umbrella"):
        credits = json.loads(story.run("credits", "--customer", "umbrella", "--format", "json"))

    story.say(f"\nDraft invoices of {period}:")
    rows = [
        {
            "customer": i["customer_id"],
            "plans": ", ".join(i["plan_versions"]),
            "currency": i["currency"],
            "charges": i["charges"],
            "discount": i["discount"],
            "tax": i["tax"],
            "credits": i["credits_applied"],
            "total": i["total"],
        }
        for i in invoices
        if "interim" not in i
    ]
    story.say(table(rows, list(rows[0])))
    interims = [
        {"invoice": i["invoice_id"], "currency": i["currency"], "usage": i["subtotal"]}
        | {"tax": i["tax"], "total": i["total"]}
        for i in invoices
        if "interim" in i
    ]
    if interims:
        story.say("\nInterim invoices (threshold invoicing), final and deducted by the drafts:")
        story.say(table(interims, list(interims[0])))
    story.say("\nCredit grants of umbrella after it:")
    story.say(table(credits, ["grant", "amount", "used", "balance", "expires"]))
    checks = status["checks_failing"]
    story.say(f"\nData-quality checks that warned ({len(checks)}):")
    for check in checks:
        reason = textwrap.shorten((check["description"] or "").strip(), 150, placeholder=" …")
        story.say(f"  - {check['check']} ({check['severity']}): {reason}")
    hints = [
        (f".venv/bin/billing invoices --period {period}", "every line of every invoice"),
        (f".venv/bin/billing report revenue --period {period}", "finance: revenue per plan"),
        (".venv/bin/billing status", "loads, lag, checks, periods"),
        ("make dev", "the Dagster UI: assets, runs, lineage"),
    ]
    width = max(len(command) for command, _ in hints)
    story.say("\nNext, try:\n" + "\n".join(f"  {c:<{width}}   # {why}" for c, why in hints))


if __name__ == "__main__":
    main()
