"""`billing sync` with each customer on its own gateway: the real pipeline bills a month for
a Chargebee customer in USD, a Razorpay customer in INR and one on the default gateway (a
directory); the sync runs through Dagster, is killed midway, and the next run leaves every
invoice once on its gateway, with only the JSON summary on stdout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

from billing_dagster.cli.runs import JobRunner
from billing_dagster.locks import GATEWAY_SYNC, home_lock
from tests.conftest import REPO
from tests.gateways.faults import emptied
from tests.gateways.test_cli_sync import apply_and_ingest, run
from tests.gateways.vendors import Vendor

CATALOG = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD, fixed_fees: [{code: platform, amount: "10.00"}], charges: [{metric: api_calls, model: per_unit, unit_price: "0.333"}]}
  - code: rupee
    name: Rupee
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: INR, charges: [{metric: api_calls, model: per_unit, unit_price: "12.50"}]}
customers:
  - {id: acme, name: "Acme \\"Quoted\\" Inc", gateway: chargebee, tax_rate: "0.20", subscriptions: [{plan: pro, start: 2026-10-01, discounts: [{type: fixed, amount: "2.00"}]}]}
  - {id: tata, name: Tata, gateway: razorpay, tax_rate: "0.18", subscriptions: [{plan: rupee, start: 2026-10-01}]}
  - {id: initech, name: Initech, subscriptions: [{plan: pro, start: 2026-10-01}]}
"""


def test_each_customer_synced_to_its_gateway_once_after_a_kill(
    database, client, home, tmp_path, capsys, monkeypatch, _vendor_servers
):
    chargebee = Vendor("chargebee", *_vendor_servers["chargebee"])
    razorpay = Vendor("razorpay", *_vendor_servers["razorpay"])
    for vendor in (chargebee, razorpay):
        emptied(vendor.server, vendor.proxy)
    apply_and_ingest(capsys, tmp_path, CATALOG, {"acme": 7, "tata": 5, "initech": 3})
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    invoices = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert [(i["customer_id"], i["currency"], i["total"]) for i in invoices] == [
        ("acme", "USD", "12.40"),
        ("initech", "USD", "11.00"),
        ("tata", "INR", "73.75"),
    ]

    monkeypatch.setenv("BILLING_GATEWAY_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("CHARGEBEE_API_KEY", "cb_test_secret_cli")
    monkeypatch.setenv("CHARGEBEE_SITE", "acme-test")
    monkeypatch.setenv("CHARGEBEE_API_BASE", chargebee.proxy.url)
    monkeypatch.setenv("RAZORPAY_KEY_ID", "rzp_test_cli")
    monkeypatch.setenv("RAZORPAY_KEY_SECRET", "rzp_secret_cli")
    monkeypatch.setenv("RAZORPAY_API_BASE", razorpay.proxy.url)
    monkeypatch.setenv("BILLING_GATEWAY_RETRY_BASE_SECONDS", "0.001")

    # A sync process killed right after Chargebee processed its 3rd request (the invoice).
    sync = subprocess.Popen(
        [sys.executable, "-m", "billing_dagster.cli.main", "sync", "--period", "2026-10"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    chargebee.proxy.after_forward = lambda r: (
        os.kill(sync.pid, signal.SIGKILL) if r.number == 3 else None
    )
    assert sync.wait(120) == -signal.SIGKILL
    assert [r.path for r in chargebee.proxy.requests] == [
        "/api/v2/customers/acme",
        "/api/v2/customers",
        "/api/v2/invoices",
    ]
    chargebee.proxy.reset()

    summary = json.loads(run(capsys, "sync", "--period", "2026-10"))  # stdout: JSON only
    assert summary["gateway"] == "chargebee, file, razorpay"
    assert summary["synced"] == ["INV-2026-10-acme", "INV-2026-10-initech", "INV-2026-10-tata"]
    assert (summary["failed"], summary["pending"]) == ([], [])
    assert summary["totals_check"] == {"passed": True, "checked": 3, "mismatches": []}
    chargebee.assert_exactly_once([invoices[0]])
    razorpay.assert_exactly_once([invoices[2]])
    [customer] = chargebee.objects()["customer"]
    assert customer["company"] == 'Acme "Quoted" Inc'  # quotes round-trip
    assert (tmp_path / "files" / "invoices" / "INV-2026-10-initech.json").exists()
    again = json.loads(run(capsys, "sync", "--period", "2026-10"))
    assert again["already_synced"] == summary["synced"] and not again["synced"]
    # Analysts see which gateway holds each invoice.
    assert client.query(
        f"SELECT invoice_id, gateway, status FROM `{database}`.fct_invoices ORDER BY invoice_id"
    ).result_rows == [
        ("INV-2026-10-acme", "chargebee", "synced"),
        ("INV-2026-10-initech", "file", "synced"),
        ("INV-2026-10-tata", "razorpay", "synced"),
    ]

    # Payment status comes back from both gateways.
    razorpay.pay(razorpay.objects()["invoice"][0]["id"])
    JobRunner(home).run("payment_status_job")
    # Tata is refunded part of its payment: a refund on Razorpay, and a credit note for finance.
    refund = json.loads(
        run(
            capsys,
            "refund",
            "--invoice",
            "INV-2026-10-tata",
            "--amount",
            "10.00",
            "--reason",
            "outage",
        )
    )
    assert json.loads(run(capsys, "sync", "--period", "2026-10"))["synced"] == [
        refund["credit_note_id"]
    ]
    [refunded] = razorpay.objects()["refund"]
    assert (refunded["amount"], refunded["notes"]["billing_credit_note_id"]) == (
        1000,
        refund["credit_note_id"],
    )
    assert client.query(
        f"SELECT credit_note_id, kind, adjusts_invoice_id, status, total FROM `{database}`.fct_credit_notes"
    ).result_rows == [
        (refund["credit_note_id"], "refund", "INV-2026-10-tata", "synced", Decimal("10.00"))
    ]
    statuses = client.query(
        f"SELECT gateway, document_id, argMax(status, fetched_at) "
        f"FROM `{database}`.invoice_statuses GROUP BY gateway, document_id ORDER BY document_id"
    ).result_rows
    assert statuses == [
        ("chargebee", "INV-2026-10-acme", "open"),
        ("file", "INV-2026-10-initech", "open"),
        ("razorpay", "INV-2026-10-tata", "paid"),
    ]
    # A sync waits while another holds the gateway_sync lock, sending nothing meanwhile.
    run(capsys, "void", "--invoice", "INV-2026-10-acme", "--reason", "duplicate order")
    chargebee.proxy.reset()
    with home_lock(home, GATEWAY_SYNC):
        waiting = subprocess.Popen(
            [sys.executable, "-m", "billing_dagster.cli.main", "sync", "--period", "2026-10"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for said in waiting.stderr:
            if said.startswith("billing: waiting for the gateway_sync lock, held by pid"):
                break
        assert chargebee.proxy.requests == []
    out, _ = waiting.communicate(timeout=120)
    assert json.loads(out)["voided"] == ["INV-2026-10-acme"]

    # The keys never reach the Dagster instance's run or event storage.
    stored = [p.read_bytes() for p in (home / "dagster").rglob("*") if p.is_file()]
    assert stored
    for secret in (b"cb_test_secret_cli", b"rzp_secret_cli"):
        assert not any(secret in content for content in stored)
