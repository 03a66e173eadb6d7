"""Disputes end to end: a month billed, finalized and synced to the fake Stripe server by the
real pipeline; disputes opened, then lost or won there; the payment status job records each
state change once, `billing disputes` shows them, and `billing entitlements` denies the
hard-limited features of a customer whose plan blocks on a lost dispute or a past-due
invoice, until it is paid."""

from __future__ import annotations

import json

import stripe

from billing_dagster.cli.runs import JobRunner
from tests.api_client import get, once_changed, serving
from tests.gateways.stripe_state import move_dispute, open_dispute, stripe_objects
from tests.gateways.test_cli_sync import apply_and_ingest, run
from tests.gateways.test_disputes import dispute_rows

ENTITLEMENTS = """\
        entitlements:
          - {feature: api_calls, limit: 1000, enforcement: hard}
          - {feature: api_calls_soft, metric: api_calls, limit: 1000, enforcement: soft}"""

CATALOG = f"""\
metrics:
  - {{code: api_calls, event_name: api_request, aggregation: count}}
plans:
  - code: guarded
    name: Guarded
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        block_on: [past_due, dispute_lost]
        fixed_fees: [{{code: platform, amount: "100.00"}}]
{ENTITLEMENTS}
  - code: open
    name: Open
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{{code: platform, amount: "40.00"}}]
{ENTITLEMENTS}
customers:
  - {{id: acme, name: Acme, subscriptions: [{{plan: guarded, start: 2026-10-01}}]}}
  - {{id: globex, name: Globex, subscriptions: [{{plan: open, start: 2026-10-01}}]}}
  - {{id: initech, name: Initech, subscriptions: [{{plan: guarded, start: 2026-10-01}}]}}
"""


def _access(capsys, customer: str) -> dict[str, tuple[bool, str]]:
    answers = json.loads(run(capsys, "entitlements", "--customer", customer, "--format", "json"))
    return {a["feature"]: (a["has_access"], a["reason"]) for a in answers}


def _dispute_rows(client, database) -> list[tuple]:
    rows = dispute_rows(client, database, "customer_id, status, gateway_status, toString(amount)")
    return sorted(rows, key=lambda row: row[0])  # each customer's rows stay in their order


def test_a_lost_dispute_and_a_past_due_invoice_block_hard_features(
    database, client, home, tmp_path, capsys, monkeypatch, proxy, stripe_server
):
    apply_and_ingest(capsys, tmp_path, CATALOG, {"acme": 3, "globex": 2, "initech": 1})
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    monkeypatch.setenv("BILLING_GATEWAY", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_disputes")
    monkeypatch.setenv("STRIPE_API_BASE", proxy.url)
    summary = json.loads(run(capsys, "sync", "--period", "2026-10"))
    assert len(summary["synced"]) == 3 and not summary["failed"]
    remote = {
        found["metadata"]["billing_invoice_id"]: found["id"]
        for found in stripe_objects(stripe_server)["invoice"]
    }
    acme = open_dispute(stripe_server, remote["INV-2026-10-acme"])
    globex = open_dispute(stripe_server, remote["INV-2026-10-globex"], reason="duplicate")
    direct = stripe.StripeClient("sk_test_disputes", base_addresses={"api": stripe_server})
    direct.v1.invoices.mark_uncollectible(remote["INV-2026-10-initech"])
    jobs = JobRunner(home)

    jobs.run("payment_status_job")
    assert _dispute_rows(client, database) == [
        ("acme", "opened", "needs_response", "100"),
        ("globex", "opened", "needs_response", "40"),
    ]
    assert _access(capsys, "acme") == {"api_calls": (True, "ok"), "api_calls_soft": (True, "ok")}
    assert _access(capsys, "initech") == {
        "api_calls": (False, "blocked_past_due"),
        "api_calls_soft": (True, "ok"),
    }

    move_dispute(stripe_server, acme["id"], "lost")
    move_dispute(stripe_server, globex["id"], "lost")
    jobs.run("payment_status_job")
    jobs.run("payment_status_job")  # nothing moved since: no row
    assert _dispute_rows(client, database) == [
        ("acme", "opened", "needs_response", "100"),
        ("acme", "lost", "lost", "100"),
        ("globex", "opened", "needs_response", "40"),
        ("globex", "lost", "lost", "40"),
    ]

    shown = json.loads(run(capsys, "disputes", "--format", "json"))
    assert [
        (d["dispute_id"], d["invoice_id"], d["customer_id"], d["amount"], d["currency"],
         d["reason"], d["status"], d["closed_at"] is not None)
        for d in shown
    ] == [
        (acme["id"], "INV-2026-10-acme", "acme", "100.00", "USD", "fraudulent", "lost", True),
        (globex["id"], "INV-2026-10-globex", "globex", "40.00", "USD", "duplicate", "lost", True),
    ]  # fmt: skip
    table = run(capsys, "disputes", "--period", "2026-10").splitlines()
    assert table[0].split() == [
        "dispute_id", "gateway", "invoice_id", "customer_id", "amount", "currency", "reason",
        "status", "gateway_status", "opened_at", "closed_at",
    ]  # fmt: skip
    assert len(table) == 4 and "lost" in table[2] and "100.00" in table[2]
    assert run(capsys, "disputes", "--period", "2026-09") == "no disputes\n"

    assert _access(capsys, "acme") == {
        "api_calls": (False, "blocked_dispute_lost"),
        "api_calls_soft": (True, "ok"),
    }
    # The invoices stay as finalized; the lost disputes mark them beside.
    marked = client.query(
        f"SELECT invoice_id, status, payment_status, dispute_status "
        f"FROM `{database}`.fct_invoices ORDER BY invoice_id"
    ).result_rows
    assert marked == [
        ("INV-2026-10-acme", "paid", "paid", "lost"),
        ("INV-2026-10-globex", "paid", "paid", "lost"),
        ("INV-2026-10-initech", "synced", "uncollectible", None),
    ]
    status = json.loads(run(capsys, "status", "--format", "json"))
    assert [(d["invoice_id"], d["dispute_status"]) for d in status["disputed_invoices"]] == [
        ("INV-2026-10-acme", "lost"),
        ("INV-2026-10-globex", "lost"),
    ]
    # Globex's plan does not block on a lost dispute.
    assert _access(capsys, "globex") == {"api_calls": (True, "ok"), "api_calls_soft": (True, "ok")}

    # The API answers alike, from memory; paid at last, the past-due block lifts with the next
    # status pull, without a restart.
    key = json.loads(run(capsys, "keys", "create", "--scope", "check"))["secret"]
    with serving(home) as (_, base):
        calls = f"{base}/v1/customers/{{}}/entitlements/api_calls"
        acme_calls = get(calls.format("acme"), key)[2]
        assert (acme_calls["has_access"], acme_calls["reason"]) == (False, "blocked_dispute_lost")
        assert get(calls.format("initech"), key)[2]["reason"] == "blocked_past_due"
        direct.v1.invoices.pay(remote["INV-2026-10-initech"], params={"paid_out_of_band": True})
        jobs.run("payment_status_job")
        lifted = once_changed(
            lambda: get(calls.format("initech"), key)[2], lambda a: a["reason"] == "ok"
        )
        assert lifted["has_access"] is True
    assert _access(capsys, "initech") == {"api_calls": (True, "ok"), "api_calls_soft": (True, "ok")}
    assert len(_dispute_rows(client, database)) == 4
