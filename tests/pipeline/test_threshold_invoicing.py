"""Threshold invoicing end to end on the real warehouse, dbt and Dagster: billing runs of the
open October issue acme's interim invoices as its calls accrue (never the same one twice),
the period's invoice deducts them, all of them agree with the reference rater to the cent and
sum to what one invoice of the period bills; globex, on a plan without a threshold, gets the
invoice it always did. Interim invoices are announced and synced while the period is open;
finalizing it syncs the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.file_gateway import FileGateway
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.sync import sync_period
from billing_dagster.invoicing.billing import bill_period
from billing_dagster.invoicing.interim import write_interim_invoices
from tests.catalogs import THRESHOLD_CATALOG
from tests.pipeline.test_invoices_match_reference import comparable
from tests.reference.rating import reference_invoices, reference_threshold_invoices
from tests.reference.usage import reference_ingest
from tests.support import cli, run

#: The fields of an invoice from before threshold invoicing, which globex's keeps exactly.
INVOICE_FIELDS = [
    "invoice_id",
    "customer_id",
    "period",
    "currency",
    "status",
    "lines",
    "charges",
    "subtotal",
    "discount",
    "tax",
    "credits_applied",
    "adjustments",
    "total",
    "plan_versions",
]


def calls(customer: str, first: int, count: int) -> str:
    """`count` calls of October, one a minute, numbered from `first`."""
    return "".join(
        json.dumps(
            {
                "event_id": f"{customer}-{n}",
                "customer_id": customer,
                "event_name": "api_request",
                "timestamp": f"2026-10-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z",
            }
        )
        + "\n"
        for n in range(first, first + count)
    )


def test_interim_invoices_then_the_period_invoice(client, database, home, tmp_path, capsys):
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(THRESHOLD_CATALOG)
    run(capsys, "catalog", "apply", str(catalog_file))
    loads = [
        calls("acme", 0, 250) + calls("globex", 0, 600),
        calls("acme", 250, 220),
        calls("acme", 470, 31),
    ]
    seen: list[str] = []  # the loads each billing run saw
    for number, load in enumerate(loads):
        events_file = tmp_path / f"events-{number}.jsonl"
        events_file.write_text(load)
        run(capsys, "ingest", str(events_file))
        run(capsys, "bill", "--period", "2026-10")
        seen.append(load)
        if number == 0:  # billed again with nothing new: no second interim invoice
            run(capsys, "bill", "--period", "2026-10")
            seen.append("")

    documents = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))

    assert [(d["invoice_id"], d["status"], d["total"]) for d in documents] == [
        ("INV-2026-10-acme-I1", "finalized", "123.75"),  # 250 calls: 125.00 − 10%, and tax
        ("INV-2026-10-acme-I2", "finalized", "108.90"),  # 220 more: 110.00 − 10%, and tax
        ("INV-2026-10-acme", "draft", "63.86"),
        ("INV-2026-10-globex", "draft", "345.51"),  # 349.00 − 34.90, and tax
    ]
    first, second, acme, globex = documents
    assert [(li["kind"], li["amount"]) for li in acme["lines"]] == [
        ("fixed_fee", "49.00"),
        ("usage", "250.50"),
        ("discount", "-29.95"),
        ("interim_invoiced", "-235.00"),
        ("interim_invoiced", "23.50"),
        ("tax", "5.81"),
    ]
    catalog = validate_catalog_file(catalog_file)
    snapshots = [
        reference_ingest([[text for text in seen[: n + 1] if text]], catalog).events
        for n in range(len(seen))
    ]
    expected = reference_threshold_invoices(snapshots, catalog, "2026-10")
    assert [_compared(d) for d in (first, second, acme)] == [_compared(d) for d in expected["acme"]]
    # Together they bill what one invoice of the period bills, to the cent.
    single = reference_invoices(snapshots[-1], catalog, "2026-10")
    assert sum(Decimal(d["total"]) for d in (first, second, acme)) == Decimal("296.51")
    assert single[0]["total"] == "296.51"
    # A plan without a threshold: the invoice it always had, field for field.
    assert list(globex) == INVOICE_FIELDS
    assert comparable(globex) == comparable(single[1])
    assert expected["globex"] == [single[1]]

    announced = client.query(
        f"SELECT event_type, JSONExtractString(payload, 'data', 'invoice_id') "
        f"FROM `{database}`.webhook_events ORDER BY 2"
    ).result_rows
    assert [tuple(row) for row in announced] == [
        ("invoice.finalized", "INV-2026-10-acme-I1"),
        ("invoice.finalized", "INV-2026-10-acme-I2"),
    ]

    gateways, retry = Gateways.only(FileGateway(tmp_path / "out")), RetryPolicy(attempts=1)
    while_open = sync_period(client, database, gateways, "2026-10", retry)
    assert while_open.synced == ["INV-2026-10-acme-I1", "INV-2026-10-acme-I2"]
    synced = client.query(
        f"SELECT JSONExtractString(payload, 'data', 'invoice_id') FROM `{database}`.webhook_events "
        f"WHERE event_type = 'invoice.synced' ORDER BY 1"
    ).result_rows
    assert [invoice for (invoice,) in synced] == while_open.synced
    run(capsys, "finalize", "--period", "2026-10")
    finalized = sync_period(client, database, gateways, "2026-10", retry)
    assert finalized.already_synced == while_open.synced
    assert finalized.synced == ["INV-2026-10-acme", "INV-2026-10-globex"]
    written = json.loads((tmp_path / "out" / "invoices" / "INV-2026-10-acme.json").read_text())
    assert written["total"] == "63.86"

    # Finance counts the interim invoices once: revenue is what the documents billed, and
    # the pro plan's usage is its 501 calls, not the interim invoices' usage again.
    report = json.loads(run(capsys, "report", "revenue", "--period", "2026-10", "--format", "json"))
    assert report["totals"] == [
        {"currency": "USD", "revenue": "642.02", "revenue_status": "final"}
    ]  # 296.51 + 345.51
    rows = {row["plan_code"]: row for row in report["by_plan"]}
    pro = rows["pro"]
    assert (pro["invoices"], pro["usage"], pro["discounts"], pro["revenue"]) == (
        3,
        "250.50",
        "-29.95",
        "296.51",
    )
    assert rows["basic"]["revenue"] == "345.51"


def _compared(document: dict) -> dict:
    """What the reference rater makes too (it leaves out ids of period invoices, tiers and
    proration details)."""
    keys = ("kind", "code", "group", "subscription_id", "quantity", "amount")
    keys += ("amount_to_date", "interim_invoices")
    lines = [{key: line.get(key) for key in keys} for line in document["lines"]]
    totals = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")
    totals += ("interim", "interim_invoiced")
    return {"lines": lines} | {key: document.get(key) for key in totals}


def _acme_calls_billed_by(tmp_path, capsys) -> None:
    """The threshold catalog applied and acme's 250 calls loaded: 125.00 accrued, enough for
    an interim invoice."""
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(THRESHOLD_CATALOG)
    run(capsys, "catalog", "apply", str(catalog_file))
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(calls("acme", 0, 250))
    run(capsys, "ingest", str(events_file))


def _issued(client, database: str) -> list[tuple]:
    return [
        tuple(row)
        for row in client.query(
            f"SELECT invoice_id, total FROM `{database}`.interim_invoices ORDER BY invoice_id"
        ).result_rows
    ]


def test_two_billing_runs_at_once_issue_the_interim_invoice_once(
    client, database, home, tmp_path, capsys
):
    _acme_calls_billed_by(tmp_path, capsys)
    environment = os.environ | {"BILLING_HOME": str(home)}
    bills = [
        subprocess.Popen(
            [sys.executable, "-m", "billing_dagster.cli.main", "bill", "--period", "2026-10"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for bill in bills:
        _, err = bill.communicate(timeout=900)
        assert bill.returncode == 0, err[-3000:]

    assert _issued(client, database) == [("INV-2026-10-acme-I1", Decimal("123.75"))]
    documents = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert [(d["invoice_id"], d["total"]) for d in documents] == [
        ("INV-2026-10-acme-I1", "123.75"),
        ("INV-2026-10-acme", "48.51"),  # 49.00 + 125.00 − 17.40 − 125.00 + 12.50; tax 15.66 − 11.25
        ("INV-2026-10-globex", "48.51"),  # no calls: 49.00 − 4.90, and tax
    ]


def test_a_run_killed_after_issuing_leaves_them_issued_once_and_announced(
    client, database, home, tmp_path, capsys
):
    _acme_calls_billed_by(tmp_path, capsys)
    run(capsys, "bill", "--period", "2026-10")  # meters; issues I1
    more = tmp_path / "more.jsonl"
    more.write_text(calls("acme", 250, 220))
    run(capsys, "ingest", str(more))
    run(capsys, "usage", "--period", "2026-10")  # meters the new calls
    # A run that issued I2 and died before its drafts and announcements:
    killed = bill_period(client, database, "2026-10")
    write_interim_invoices(client, database, killed.interims, killed.catalog_version)
    assert [i["invoice_id"] for i in killed.interims] == ["INV-2026-10-acme-I2"]

    run(capsys, "bill", "--period", "2026-10")

    assert _issued(client, database) == [
        ("INV-2026-10-acme-I1", Decimal("123.75")),
        ("INV-2026-10-acme-I2", Decimal("108.90")),
    ]
    documents = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    [acme] = [d for d in documents if d["invoice_id"] == "INV-2026-10-acme"]
    assert acme["interim_invoiced"] == "211.50"
    assert cli(capsys, "void", "--invoice", "INV-2026-10-acme-I1", "--reason", "x")[::2] == (
        2,
        'billing: invoice "INV-2026-10-acme-I1" is an interim invoice: interim invoices cannot '
        "be voided, since the period's invoice deducts what they billed (docs/invoicing.md, "
        "Threshold invoicing)\n",
    )
    announced = client.query(
        f"SELECT count() FROM `{database}`.webhook_events WHERE event_type = 'invoice.finalized'"
    ).result_rows
    assert announced == [(2,)]
