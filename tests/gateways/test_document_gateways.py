"""Chargebee and Razorpay against the real SDKs, our fakes of their servers and the fault
proxy: the Stripe suite's fault matrix, and a sync killed after its Nth request at every N,
end with each customer, invoice and credit note once and totals equal to ours."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.file_gateway import FileGateway
from billing_dagster.gateways.ledger import SyncLedger
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import check_totals, pull_statuses
from billing_dagster.gateways.sync import sync_period
from billing_dagster.invoicing.voids import void_invoice
from testbed.documents import write_finalized
from tests.gateways.faults import Fault, emptied, every, fault_matrix, first_time_each_create
from tests.gateways.test_stripe_sync import credit_note

PERIOD = "2026-10"


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(attempts=6, base_seconds=0.001, max_seconds=0.005, seed=5)


@pytest.fixture
def invoices(client, database, vendor) -> list[dict]:
    documents = vendor.documents(PERIOD)
    write_finalized(client, database, PERIOD, documents)
    return documents


def sync(client, database, vendor, retry, period=PERIOD):
    return sync_period(client, database, Gateways.only(vendor.gateway()), period, retry)


def test_each_invoice_once_with_our_totals_and_a_rerun_sends_nothing(
    client, database, invoices, vendor, retry, capfd
):
    summary = sync(client, database, vendor, retry)
    assert summary.synced == [i["invoice_id"] for i in invoices] and not summary.failed
    assert summary.gateway == vendor.name
    remote = vendor.assert_exactly_once(invoices)
    acme = remote["INV-2026-10-acme"]["line_items"][0]
    assert (
        acme["description"]
        == "Fixed fee platform (pro v1) (less discount 10.00; less prepaid credit g1 30.01)"
    )
    check = check_totals(client, database, Gateways.only(vendor.gateway()), retry, PERIOD)
    assert (check.checked, check.mismatches, check.error) == (3, [], "")
    assert pull_statuses(client, database, vendor.gateway(), retry) == {"open": 3}

    vendor.proxy.reset()
    again = sync(client, database, vendor, retry)
    assert again.already_synced == summary.synced and not again.synced
    assert vendor.proxy.requests == []  # the ledger knew everything
    assert capfd.readouterr().out == ""  # the SDKs print nothing on our results channel


@pytest.mark.parametrize("plan", fault_matrix())
def test_faults_retried_to_exactly_once(client, database, invoices, vendor, retry, plan, capfd):
    vendor.proxy.reset(plan)
    summary = sync(client, database, vendor, retry)
    assert vendor.proxy.faults, "the plan injected no fault"
    assert summary.synced == [i["invoice_id"] for i in invoices] and not summary.failed
    vendor.assert_exactly_once(invoices)
    vendor.proxy.reset()
    assert sync(client, database, vendor, retry).already_synced == summary.synced
    vendor.assert_exactly_once(invoices)
    assert capfd.readouterr().out == ""


class Killed(BaseException):
    """The sync process dies: nothing after it runs, not even a `finally`'s ledger flush."""


def dying_after(vendor, request_number: int, monkeypatch):
    """A gateway whose process dies once the server has processed request `request_number`:
    its response is lost, no later request is sent and no ledger row is written after it."""
    dead: list[int] = []
    vendor.proxy.reset(lambda r: Fault.DROP_RESPONSE if r.number == request_number else None)
    vendor.proxy.after_forward = lambda r: (
        dead.append(r.number) if r.number == request_number else None
    )
    flush = SyncLedger.flush
    monkeypatch.setattr(SyncLedger, "flush", lambda self: None if dead else flush(self))
    gateway = vendor.gateway()

    class Dying:
        name, whole_documents = gateway.name, gateway.whole_documents

        def __getattr__(self, method):
            def call(*args, **kwargs):
                if dead:
                    raise Killed
                return getattr(gateway, method)(*args, **kwargs)

            return call

    return Dying()


@pytest.mark.parametrize("period", ["2026-10", "2026-11"], ids=["invoices", "credit-note"])
def test_a_sync_killed_after_every_request_n_is_finished_once_by_the_next(
    client, database, invoices, vendor, retry, monkeypatch, period
):
    """2026-10 syncs the three invoices; 2026-11 a credit note of acme's (on Razorpay, once
    its invoice is paid: a refund)."""
    write_finalized(
        client, database, "2026-11", [], [credit_note("2026-11", "acme", PERIOD, "7.50", "USD")]
    )

    def fresh_start() -> None:
        forget_everything(client, database, vendor)
        if period == "2026-11":
            sync(client, database, vendor, retry)
            if vendor.name == "razorpay":
                vendor.pay(vendor.assert_exactly_once(invoices)["INV-2026-10-acme"]["id"])
        vendor.proxy.reset()

    fresh_start()
    assert sync(client, database, vendor, retry, period).synced
    total_requests = len(vendor.proxy.requests)
    assert total_requests >= (12 if period == PERIOD else 2)
    for n in range(1, total_requests + 1):
        fresh_start()
        gateway = dying_after(vendor, n, monkeypatch)
        with pytest.raises(Killed):
            sync_period(client, database, Gateways.only(gateway), period, retry)
        monkeypatch.undo()
        vendor.proxy.reset()
        again = sync(client, database, vendor, retry, period)
        assert len(again.synced + again.already_synced) == (3 if period == PERIOD else 1), n
        assert not again.failed, (n, again.failed)
        vendor.assert_exactly_once(invoices)
        assert len(vendor.credit_notes()) == (0 if period == PERIOD else 1), n


def forget_everything(client, database, vendor) -> None:
    """An empty gateway and an empty ledger, for the next kill."""
    emptied(vendor.server, vendor.proxy)
    for table in ("gateway_customers", "gateway_sync_documents", "gateway_sync_lines"):
        client.command(f"TRUNCATE TABLE `{database}`.{table}")


def test_a_gateway_that_stays_down_is_tried_for_one_invoice_only(
    client, database, invoices, vendor, retry, capfd
):
    vendor.proxy.reset(every(Fault.CUT))
    summary = sync(client, database, vendor, retry)
    assert [f["id"] for f in summary.failed] == [i["invoice_id"] for i in invoices]
    first, *rest = [f["reason"] for f in summary.failed]
    assert "still failing after 6 attempts" in first and "network error" in first
    assert rest == [f"not attempted: {vendor.name} failed on INV-2026-10-acme: {first}"] * 2
    assert len(vendor.proxy.requests) == 6
    assert capfd.readouterr().out == ""


def test_refused_credentials_stop_the_sync_at_the_first_request(
    client, database, invoices, vendor, retry
):
    vendor.proxy.reset(every(Fault.UNAUTHORIZED))
    summary = sync(client, database, vendor, retry)
    keys = {
        "chargebee": "CHARGEBEE_API_KEY and CHARGEBEE_SITE",
        "razorpay": "RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET",
    }
    first = summary.failed[0]["reason"]
    assert first.endswith(f"refused the API key (401): check {keys[vendor.name]}")
    assert len(vendor.proxy.requests) == 1


def test_credit_notes_and_voids(client, database, invoices, vendor, retry):
    sync(client, database, vendor, retry)
    remote = vendor.assert_exactly_once(invoices)
    note = credit_note("2026-11", "acme", PERIOD, "7.50", "USD")
    write_finalized(client, database, "2026-11", [], [note])
    if vendor.name == "razorpay":
        # No credit notes on Razorpay: it waits for the payment, then becomes a refund.
        waiting = sync(client, database, vendor, retry, "2026-11")
        assert (waiting.pending, waiting.failed) == (
            [
                {
                    "id": note["credit_note_id"],
                    "reason": f"credit note CN-2026-11-acme-2026-10 credits invoice INV-2026-10-acme, which is "
                    f"issued on Razorpay ({remote['INV-2026-10-acme']['id']}): Razorpay has no credit notes, "
                    f"so it becomes a refund of the payment once the invoice is paid; the next sync after "
                    f"that sends it",
                }
            ],
            [],
        )
        vendor.pay(remote["INV-2026-10-acme"]["id"])
    vendor.proxy.reset(first_time_each_create(Fault.DROP_RESPONSE))
    assert sync(client, database, vendor, retry, "2026-11").synced == [note["credit_note_id"]]
    vendor.proxy.reset()
    assert sync(client, database, vendor, retry, "2026-11").already_synced == [
        note["credit_note_id"]
    ]
    [created] = vendor.credit_notes()
    total = created["total"] if vendor.name == "chargebee" else created["amount"]
    assert total == 750
    if vendor.name == "chargebee":
        assert (created["type"], created["reference_invoice_id"]) == (
            "adjustment",
            remote["INV-2026-10-acme"]["id"],
        )

    # Voided here, voided there; a paid invoice cannot be voided and says so.
    void_invoice(client, database, "INV-2026-10-globex", "duplicate order")
    vendor.pay(remote["INV-2026-10-initech"]["id"])
    void_invoice(client, database, "INV-2026-10-initech", "wrong entity")
    vendor.proxy.reset(first_time_each_create(Fault.DROP_RESPONSE))
    summary = sync(client, database, vendor, retry)
    assert summary.voided == ["INV-2026-10-globex"]
    assert summary.failed == [
        {
            "id": "INV-2026-10-initech",
            "reason": f"invoice INV-2026-10-initech is voided here but paid on {vendor.name} "
            f"({remote['INV-2026-10-initech']['id']}): a paid invoice cannot be voided; refund it there",
        }
    ]
    statuses = pull_statuses(client, database, vendor.gateway(), retry)
    assert (
        statuses == {"open": 1, "paid": 1, "void": 1}
        if vendor.name == "chargebee"
        else {"paid": 2, "void": 1}
    )


def test_documents_stay_on_the_gateway_that_holds_them(
    client, database, invoices, vendor, retry, tmp_path
):
    """A customer moved to another gateway: a re-sync copies nothing across, and a credit note
    goes where the invoice it credits is."""
    files = FileGateway(tmp_path / "out")
    gateways = Gateways("file", lambda name: files if name == "file" else vendor.gateway())
    assert sync_period(client, database, gateways, PERIOD, retry).gateway == "file"
    client.insert(
        f"`{database}`.catalog_customers",
        [[1, "acme", "Acme", Decimal(0), vendor.name]],
        column_names=["catalog_version", "customer_id", "name", "tax_rate", "gateway"],
    )
    again = sync_period(client, database, gateways, PERIOD, retry)
    assert (again.gateway, len(again.already_synced)) == ("file", 3)
    note = credit_note("2026-11", "acme", PERIOD, "7.50", "USD")
    write_finalized(client, database, "2026-11", [], [note])
    credited = sync_period(client, database, gateways, "2026-11", retry)
    assert (credited.gateway, credited.synced) == ("file", [note["credit_note_id"]])
    assert vendor.objects() == {key: [] for key in vendor.objects()}
