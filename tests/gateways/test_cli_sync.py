"""`billing sync` end to end: the real pipeline bills and finalizes a month in USD, EUR and
JPY; the sync runs through Dagster to the fake Stripe server. A sync process killed midway
and run again leaves every invoice once; voids and payment status travel both ways."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import stripe

from billing_dagster.cli.main import main as billing
from billing_dagster.cli.runs import JobRunner
from schedules.payment_status import payment_status_schedule
from tests.conftest import REPO
from tests.gateways.faults import Fault, every
from tests.gateways.stripe_state import assert_exactly_once

CATALOG = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "10.00"}]
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 2, unit_price: "0"}
              - {up_to: null, unit_price: "0.333", flat_fee: "1.00"}
  - code: euro
    name: Euro
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: EUR, charges: [{metric: api_calls, model: per_unit, unit_price: "0.125"}]}
  - code: yen
    name: Yen
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: JPY, charges: [{metric: api_calls, model: per_unit, unit_price: "33.5"}]}
customers:
  - {id: acme, name: Acme, tax_rate: "0.20", subscriptions: [{plan: pro, start: 2026-10-01, discounts: [{type: fixed, amount: "2.00"}]}]}
  - {id: globex, name: Globex, tax_rate: "0.19", subscriptions: [{plan: euro, start: 2026-10-01}]}
  - {id: initech, name: Initech, tax_rate: "0.10", subscriptions: [{plan: yen, start: 2026-10-01}]}
credit_grants:
  - {id: g1, customer: acme, amount: "3.00", effective: 2026-10-01, expires: null}
"""


def run(capsys, *args: str, code: int = 0) -> str:
    returned = billing(list(args))
    out, err = capsys.readouterr()
    assert returned == code, err
    return out


def apply_and_ingest(capsys, tmp_path, catalog: str, calls: dict[str, int]) -> None:
    """Apply `catalog` and ingest that many API calls of each customer in October 2026."""
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog)
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"{customer}-{n}",
                    "customer_id": customer,
                    "event_name": "api_request",
                    "timestamp": f"2026-10-{n % 28 + 1:02d}T12:00:00Z",
                }
            )
            + "\n"
            for customer, count in calls.items()
            for n in range(count)
        )
    )
    run(capsys, "catalog", "apply", str(path))
    run(capsys, "ingest", str(events))


def test_sync_killed_then_rerun_void_and_status(
    database, client, home, tmp_path, capsys, monkeypatch, proxy, stripe_server
):
    apply_and_ingest(capsys, tmp_path, CATALOG, {"acme": 7, "globex": 5, "initech": 3})
    run(capsys, "bill", "--period", "2026-10")
    # Drafts can be neither voided nor synced.
    assert billing(["void", "--invoice", "INV-2026-10-acme", "--reason", "x"]) == 2
    assert "only finalized invoices can be voided" in capsys.readouterr().err
    assert billing(["sync", "--period", "2026-10"]) == 2
    assert "not finalized" in capsys.readouterr().err
    run(capsys, "finalize", "--period", "2026-10")
    invoices = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert [i["currency"] for i in invoices] == ["USD", "EUR", "JPY"]

    monkeypatch.setenv("BILLING_GATEWAY", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_cli")
    monkeypatch.setenv("STRIPE_API_BASE", proxy.url)
    monkeypatch.setenv("BILLING_GATEWAY_RETRY_BASE_SECONDS", "0.001")

    # A sync process killed right after Stripe processed its 8th request.
    sync = subprocess.Popen(
        [sys.executable, "-m", "billing_dagster.cli.main", "sync", "--period", "2026-10"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    proxy.after_forward = lambda r: os.kill(sync.pid, signal.SIGKILL) if r.number == 8 else None
    assert sync.wait(120) == -signal.SIGKILL
    assert len(proxy.requests) == 8
    proxy.reset()

    summary = json.loads(run(capsys, "sync", "--period", "2026-10"))
    assert summary["synced"] == [i["invoice_id"] for i in invoices] and not summary["failed"]
    assert summary["totals_check"] == {"passed": True, "checked": 3, "mismatches": []}
    remote = assert_exactly_once(stripe_server, invoices)
    again = json.loads(run(capsys, "sync", "--period", "2026-10"))
    assert again["already_synced"] == summary["synced"] and not again["synced"]
    assert_exactly_once(stripe_server, invoices)
    # Webhook events: each invoice finalized and synced once, despite the kill and the re-runs.
    outbox = client.query(
        f"SELECT event_type, count(), uniqExact(event_id) FROM `{database}`.webhook_events "
        f"GROUP BY event_type ORDER BY event_type"
    ).result_rows
    assert outbox == [("invoice.finalized", 3, 3), ("invoice.synced", 3, 3)]
    # The key never reaches the Dagster instance's run or event storage.
    stored = [p.read_bytes() for p in (home / "dagster").rglob("*") if p.is_file()]
    assert stored and not any(b"sk_test_cli" in content for content in stored)

    # Voided here, voided on Stripe.
    voided = json.loads(
        run(capsys, "void", "--invoice", "INV-2026-10-globex", "--reason", "duplicate order")
    )
    assert (voided["status"], voided["period"]) == ("void", "2026-10")
    # With Stripe down, the sync still prints its summary, every failure with its reason.
    proxy.reset(every(Fault.CUT))
    down = json.loads(run(capsys, "sync", "--period", "2026-10", code=1))
    assert down["already_synced"] == ["INV-2026-10-acme", "INV-2026-10-initech"]
    [failed] = down["failed"]
    assert failed["id"] == "INV-2026-10-globex"
    assert failed["reason"].startswith(
        "voiding invoice INV-2026-10-globex: still failing after 6 attempts: "
    )
    assert down["totals_check"]["passed"] is False
    assert down["totals_check"]["error"].startswith(
        "could not read totals from stripe: total of invoice INV-2026-10-"
    )
    assert "still failing after 6 attempts" in down["totals_check"]["error"]
    proxy.reset()
    summary = json.loads(run(capsys, "sync", "--period", "2026-10"))
    assert summary["voided"] == ["INV-2026-10-globex"]
    shown = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert [i["status"] for i in shown] == ["finalized", "void", "finalized"]

    # Payment status comes back: paid out of band and uncollectible, set on Stripe's side.
    direct = stripe.StripeClient("sk_test_cli", base_addresses={"api": stripe_server})
    direct.v1.invoices.pay(remote["INV-2026-10-acme"]["id"], params={"paid_out_of_band": True})
    direct.v1.invoices.mark_uncollectible(remote["INV-2026-10-initech"]["id"])
    request = payment_status_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 5, 9, tzinfo=UTC))
    )
    assert request.run_key == "payment-status-20261105T09"
    JobRunner(home).run("payment_status_job")
    statuses = client.query(
        f"SELECT document_id, argMax(status, fetched_at) FROM `{database}`.invoice_statuses "
        f"GROUP BY document_id ORDER BY document_id"
    ).result_rows
    assert statuses == [
        ("INV-2026-10-acme", "paid"),
        ("INV-2026-10-globex", "void"),
        ("INV-2026-10-initech", "uncollectible"),
    ]
