"""Refunds end to end: `issue_refund` on a paid, finalized invoice, then the sync sends it to
Stripe, Chargebee or Razorpay exactly once, under faults and kills."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
import stripe

from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.file_gateway import FileGateway
from billing_dagster.gateways.ledger import LedgerEntry, SyncLedger
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import pull_statuses
from billing_dagster.gateways.stripe_gateway import StripeGateway
from billing_dagster.gateways.sync import sync_period
from billing_dagster.invoicing.refunds import RefundRefused, issue_refund
from billing_dagster.invoicing.voids import void_invoice
from testbed.documents import invoice, line, write_finalized
from tests.conftest import REPO
from tests.gateways.faults import Fault, first_time_each_create
from tests.gateways.stripe_state import stripe_objects
from tests.gateways.test_document_gateways import Killed, dying_after, forget_everything

PERIOD = "2026-10"
INVOICE = "INV-2026-10-acme"


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(attempts=6, base_seconds=0.001, max_seconds=0.005, seed=5)


@pytest.fixture
def hundred(client, database) -> dict:
    """A finalized invoice of 100.00 USD."""
    document = invoice("acme", PERIOD, "USD", [line("fixed_fee", "100.00", "platform")])
    write_finalized(client, database, PERIOD, [document])
    return document


def test_a_refund_on_stripe_is_one_credit_note_and_one_refund(
    client, database, hundred, proxy, stripe_server, retry
):
    gateway = StripeGateway("sk_test_refund", proxy.url)
    sync_period(client, database, Gateways.only(gateway), PERIOD, retry)
    with pytest.raises(RefundRefused) as unpaid:
        issue_refund(client, database, INVOICE, "30.00", "outage", "payment")
    assert str(unpaid.value) == (
        "invoice INV-2026-10-acme is not paid (no payment recorded): a refund returns money "
        "received. If it was paid since, pull the payment status (`payment_status_job`) first"
    )
    [remote] = stripe_objects(stripe_server)["invoice"]
    direct = stripe.StripeClient("sk_test_refund", base_addresses={"api": stripe_server})
    direct.v1.invoices.pay(remote["id"], params={"paid_out_of_band": True})
    pull_statuses(client, database, gateway, retry)

    note = issue_refund(client, database, INVOICE, "30.00", "outage on 2026-10-12", "payment")
    assert (
        issue_refund(client, database, INVOICE, "30.00", "outage on 2026-10-12", "payment") == note
    )
    assert (note["total"], note["refund_to"], note["adjusts_invoice"]) == (
        "30.00",
        "payment",
        INVOICE,
    )
    with pytest.raises(RefundRefused) as too_much:
        issue_refund(client, database, INVOICE, "70.01", "goodwill", "credit")
    assert str(too_much.value) == (
        "invoice INV-2026-10-acme was paid 100.00 USD and 30.00 of it is already credited or "
        "refunded: at most 70.00 can be refunded"
    )

    proxy.reset(first_time_each_create(Fault.DROP_RESPONSE))
    summary = sync_period(client, database, Gateways.only(gateway), PERIOD, retry)
    assert summary.synced == [note["credit_note_id"]] and not summary.failed
    objects = stripe_objects(stripe_server)
    [credit_note] = objects["credit_note"]
    [refund] = objects["refund"]
    assert (credit_note["amount"], credit_note["refund"], refund["amount"]) == (
        3000,
        refund["id"],
        3000,
    )
    assert credit_note["metadata"]["billing_credit_note_id"] == note["credit_note_id"]
    proxy.reset()
    again = sync_period(client, database, Gateways.only(gateway), PERIOD, retry)
    assert again.already_synced == [INVOICE, note["credit_note_id"]] and not proxy.requests


def test_a_refund_reaches_chargebee_and_razorpay_once_after_a_kill_at_every_request(
    client, database, hundred, vendor, retry, monkeypatch
):
    def paid_and_refunded() -> dict:
        """A fresh gateway holding the invoice, paid; then the refund issued."""
        forget_everything(client, database, vendor)
        client.command(f"TRUNCATE TABLE `{database}`.refunds")
        sync_period(client, database, Gateways.only(vendor.gateway()), PERIOD, retry)
        vendor.pay(vendor.assert_exactly_once([hundred])[INVOICE]["id"])
        pull_statuses(client, database, vendor.gateway(), retry)
        vendor.proxy.reset()
        return issue_refund(client, database, INVOICE, "30.00", "outage", "payment")

    note = paid_and_refunded()
    assert sync_period(client, database, Gateways.only(vendor.gateway()), PERIOD, retry).synced == [
        note["credit_note_id"]
    ]
    total_requests = len(vendor.proxy.requests)
    for n in range(1, total_requests + 1):
        paid_and_refunded()
        with pytest.raises(Killed):
            sync_period(
                client, database, Gateways.only(dying_after(vendor, n, monkeypatch)), PERIOD, retry
            )
        monkeypatch.undo()
        vendor.proxy.reset()
        again = sync_period(client, database, Gateways.only(vendor.gateway()), PERIOD, retry)
        assert not again.failed, (n, again.failed)
        [refunded] = vendor.credit_notes()
        if vendor.name == "chargebee":
            assert (refunded["type"], refunded["total"], refunded["amount_refunded"]) == (
                "refundable",
                3000,
                3000,
            ), n
        else:
            assert refunded["amount"] == 3000, n
    if vendor.name == "razorpay":
        with pytest.raises(RefundRefused) as no_balance:
            issue_refund(client, database, INVOICE, "5.00", "goodwill", "credit")
        assert str(no_balance.value) == (
            "invoice INV-2026-10-acme is on razorpay, which keeps no customer balance to credit: "
            "refund it to the payment (--to payment)"
        )


def test_a_void_invoice_is_not_refunded(client, database, hundred):
    void_invoice(client, database, INVOICE, "wrong entity")
    with pytest.raises(RefundRefused, match="invoice INV-2026-10-acme is void: nothing was paid"):
        issue_refund(client, database, INVOICE, "1.00", "x", "payment")
    with pytest.raises(RefundRefused, match='no finalized invoice "INV-2026-10-nobody"'):
        issue_refund(client, database, "INV-2026-10-nobody", "1.00", "x", "payment")


def paid_per_gateway(client, database) -> None:
    """The payment status pull-back saw the invoice paid on the file gateway."""
    entry = LedgerEntry("invoice", INVOICE, PERIOD, "acme", INVOICE, "synced", "USD", Decimal(100))
    SyncLedger(client, database, "file").record_statuses([(entry, "paid")])


def test_a_refund_the_gateway_does_not_see_paid_is_refused_there(
    client, database, hundred, tmp_path, retry
):
    files = Gateways.only(FileGateway(tmp_path / "out"))
    sync_period(client, database, files, PERIOD, retry)
    paid_per_gateway(client, database)
    note = issue_refund(client, database, INVOICE, "30.00", "outage", "payment")
    summary = sync_period(client, database, files, PERIOD, retry)
    assert summary.failed == [
        {
            "id": note["credit_note_id"],
            "reason": f"refund {note['credit_note_id']}: invoice INV-2026-10-acme is open on file "
            f"(INV-2026-10-acme), not paid: there is no payment to refund there; check its payment "
            f"before syncing again",
        }
    ]
    assert not (tmp_path / "out" / "credit_notes").exists() or not any(
        (tmp_path / "out" / "credit_notes").iterdir()
    )


def refund_process(amount: str, reason: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billing_dagster.cli.main",
            "refund",
            "--invoice",
            INVOICE,
            "--amount",
            amount,
            "--reason",
            reason,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_refund_commands_at_once_refund_once_and_never_beyond_the_payment(
    client, database, hundred, home
):
    paid_per_gateway(client, database)
    same = [refund_process("10.00", "late delivery") for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in same]
    assert [process.returncode for process in same] == [0, 0]
    assert json.loads(outputs[0][0]) == json.loads(outputs[1][0])
    hint = "billing: `billing sync --period 2026-10` sends it to the gateway\n"
    assert all(err.endswith(hint) for _, err in outputs)
    assert client.command(f"SELECT count() FROM `{database}`.refunds") == 1

    rival = [refund_process("60.00", "outage"), refund_process("60.00", "goodwill")]
    results = sorted((p.wait(120), p.stdout.read(), p.stderr.read()) for p in rival)
    assert [code for code, _, _ in results] == [0, 2]
    assert results[1][2].endswith(
        "invoice INV-2026-10-acme was paid 100.00 USD and 70.00 of it is already credited or "
        "refunded: at most 30.00 can be refunded\n"
    )
    assert client.command(f"SELECT sum(amount) FROM `{database}`.refunds") == Decimal("70.00")
