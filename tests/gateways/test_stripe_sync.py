"""The Stripe sync against the real SDK, a fake Stripe server and a fault-injecting proxy:
every invoice exactly once with our lines and total, whatever fails on the way."""

from __future__ import annotations

import pytest

from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import check_totals
from billing_dagster.gateways.stripe_gateway import StripeGateway
from billing_dagster.gateways.sync import SyncRefused, sync_period
from billing_dagster.invoicing.voids import VoidRefused, void_invoice
from testbed.documents import three_currencies, write_finalized
from tests.gateways.faults import Fault, every, fault_matrix, first_time_each_create
from tests.gateways.stripe_state import assert_exactly_once, stripe_objects

PERIOD = "2026-10"


@pytest.fixture
def gateway(proxy) -> StripeGateway:
    return StripeGateway("sk_test_harness", proxy.url)


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(attempts=6, base_seconds=0.001, max_seconds=0.005, seed=5)


@pytest.fixture
def invoices(client, database) -> list[dict]:
    documents = three_currencies(PERIOD)
    write_finalized(client, database, PERIOD, documents)
    return documents


def sync(client, database, gateway, retry):
    return sync_period(client, database, Gateways.only(gateway), PERIOD, retry)


def test_each_invoice_once_with_our_lines_and_totals(
    client, database, invoices, gateway, retry, proxy, stripe_server
):
    summary = sync(client, database, gateway, retry)
    assert summary.synced == [i["invoice_id"] for i in invoices] and not summary.failed
    remote = assert_exactly_once(stripe_server, invoices)
    assert {i: r["status"] for i, r in remote.items()} == {
        "INV-2026-10-acme": "open",
        "INV-2026-10-globex": "open",
        "INV-2026-10-initech": "open",
    }
    assert all(r["sent_count"] == 1 for r in remote.values())
    descriptions = [i["description"] for i in stripe_objects(stripe_server)["invoiceitem"]]
    assert (
        "api_calls (pro v1): 186 units; tier 1: 50 × 0 = 0.00; tier 2: 136 × 0.10 + 1.00 = 14.60"
        in descriptions
    )
    assert check_totals(client, database, Gateways.only(gateway), retry, PERIOD).mismatches == []

    proxy.reset()
    again = sync(client, database, gateway, retry)
    assert again.already_synced == summary.synced and not again.synced
    assert [r.method for r in proxy.requests] == []  # the ledger knew everything
    assert_exactly_once(stripe_server, invoices)


def test_only_finalized_periods_are_synced(client, database, gateway, retry):
    with pytest.raises(SyncRefused, match="period 2026-10 is not finalized"):
        sync(client, database, gateway, retry)


@pytest.mark.parametrize("plan", fault_matrix())
def test_faults_retried_to_exactly_once(
    client, database, invoices, gateway, retry, proxy, stripe_server, plan
):
    proxy.reset(plan)
    summary = sync(client, database, gateway, retry)
    assert proxy.faults, "the plan injected no fault"
    assert summary.synced == [i["invoice_id"] for i in invoices] and not summary.failed
    assert_exactly_once(stripe_server, invoices)
    proxy.reset()
    assert sync(client, database, gateway, retry).already_synced == summary.synced
    assert_exactly_once(stripe_server, invoices)


@pytest.mark.parametrize("processed", [1, 3, 6, 9, 14, 20, 26])
def test_run_dying_midway_resumes_without_duplicates(
    client, database, invoices, gateway, retry, proxy, stripe_server, processed
):
    """Request number `processed` reaches Stripe but its response is lost, and Stripe is
    unreachable from then on; the next run finishes the job."""
    proxy.reset(
        lambda r: (
            Fault.DROP_RESPONSE if r.number == processed else every(Fault.CUT, after=processed)(r)
        )
    )
    first = sync(client, database, gateway, retry)
    assert first.failed and all(
        "still failing after 6 attempts" in f["reason"] for f in first.failed
    )
    proxy.reset()
    second = sync(client, database, gateway, retry)
    assert sorted(first.synced + second.synced) == sorted(i["invoice_id"] for i in invoices)
    assert not second.failed
    assert_exactly_once(stripe_server, invoices)


def test_a_bad_request_fails_only_that_invoice(
    client, database, invoices, gateway, retry, proxy, stripe_server
):
    proxy.reset(
        lambda r: (
            Fault.BAD_REQUEST
            if r.method == "POST" and r.path == "/v1/invoices" and b"globex" in r.body
            else None
        )
    )
    summary = sync(client, database, gateway, retry)
    assert summary.synced == ["INV-2026-10-acme", "INV-2026-10-initech"]
    assert summary.failed == [
        {
            "id": "INV-2026-10-globex",
            "reason": "creating invoice INV-2026-10-globex: Stripe answered 400: injected bad request",
        }
    ]
    assert len([f for f in proxy.faults]) == 1  # not retried
    proxy.reset()
    again = sync(client, database, gateway, retry)
    assert (again.synced, again.already_synced) == (
        ["INV-2026-10-globex"],
        ["INV-2026-10-acme", "INV-2026-10-initech"],
    )
    assert_exactly_once(stripe_server, invoices)


def test_a_gateway_that_stays_down_is_tried_for_one_invoice_only(
    client, database, invoices, gateway, retry, proxy
):
    proxy.reset(every(Fault.CUT))
    summary = sync(client, database, gateway, retry)
    assert [f["id"] for f in summary.failed] == [i["invoice_id"] for i in invoices]
    first, *rest = [f["reason"] for f in summary.failed]
    assert first.startswith(
        "customer acme: still failing after 6 attempts: searching customer acme: network error"
    )
    assert rest == [f"not attempted: stripe failed on INV-2026-10-acme: {first}"] * 2
    assert len(proxy.requests) == 6  # the attempts for the first invoice, none after


def test_refused_credentials_stop_the_sync_at_the_first_request(
    client, database, invoices, gateway, retry, proxy
):
    proxy.reset(every(Fault.UNAUTHORIZED))
    summary = sync(client, database, gateway, retry)
    refused = "searching customer acme: Stripe refused the API key (401): check STRIPE_API_KEY"
    skipped = f"not attempted: stripe failed on INV-2026-10-acme: {refused}"
    assert summary.failed == [
        {"id": "INV-2026-10-acme", "reason": refused},
        {"id": "INV-2026-10-globex", "reason": skipped},
        {"id": "INV-2026-10-initech", "reason": skipped},
    ]
    assert len(proxy.requests) == 1


def credit_note(period: str, customer: str, adjusted: str, total: str, currency: str) -> dict:
    return {
        "credit_note_id": f"CN-{period}-{customer}-{adjusted}",
        "customer_id": customer,
        "period": period,
        "adjusts_period": adjusted,
        "adjusts_invoice": f"INV-{adjusted}-{customer}",
        "currency": currency,
        "status": "finalized",
        "billed_total": "77.99",
        "corrected_total": "70.49",
        "lines": [],
        "total": total,
    }


def test_credit_notes_credit_the_adjusted_invoice_once(
    client, database, invoices, gateway, retry, proxy, stripe_server
):
    note = credit_note("2026-11", "acme", PERIOD, "7.50", "USD")
    write_finalized(client, database, "2026-11", [], [note])
    early = sync_period(client, database, Gateways.only(gateway), "2026-11", retry)
    assert early.failed == [
        {
            "id": note["credit_note_id"],
            "reason": "credit note CN-2026-11-acme-2026-10 credits invoice INV-2026-10-acme, which "
            "is not on stripe: run `billing sync --period 2026-10` first",
        }
    ]
    sync(client, database, gateway, retry)
    proxy.reset(first_time_each_create(Fault.DROP_RESPONSE))
    assert sync_period(client, database, Gateways.only(gateway), "2026-11", retry).synced == [
        note["credit_note_id"]
    ]
    notes = stripe_objects(stripe_server)["credit_note"]
    remote = assert_exactly_once(stripe_server, invoices)
    assert [(n["invoice"], n["amount"], n["currency"]) for n in notes] == [
        (remote["INV-2026-10-acme"]["id"], 750, "usd")
    ]
    proxy.reset()
    assert sync_period(
        client, database, Gateways.only(gateway), "2026-11", retry
    ).already_synced == [note["credit_note_id"]]
    assert len(stripe_objects(stripe_server)["credit_note"]) == 1


def test_voids_reach_stripe_and_unsynced_voided_invoices_stay_off_it(
    client, database, invoices, gateway, retry, proxy, stripe_server
):
    void_invoice(client, database, "INV-2026-10-initech", "sent to the wrong entity")
    first = sync(client, database, gateway, retry)
    assert (first.synced, first.voided) == (
        ["INV-2026-10-acme", "INV-2026-10-globex"],
        ["INV-2026-10-initech"],
    )
    assert_exactly_once(stripe_server, invoices[:2])
    void_invoice(client, database, "INV-2026-10-acme", "duplicate")
    proxy.reset(first_time_each_create(Fault.DROP_RESPONSE))
    assert sync(client, database, gateway, retry).voided == ["INV-2026-10-acme"]
    remote = assert_exactly_once(stripe_server, invoices[:2])
    assert remote["INV-2026-10-acme"]["status"] == "void"
    assert remote["INV-2026-10-globex"]["status"] == "open"
    with pytest.raises(VoidRefused, match='no such invoice "INV-2026-10-nobody"'):
        void_invoice(client, database, "INV-2026-10-nobody", "typo")
