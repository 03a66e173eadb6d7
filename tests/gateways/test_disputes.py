"""Disputes pulled back from Stripe after a sync: a row per state change, none twice."""

from __future__ import annotations

import pytest

from billing_dagster.disputes.pull import pull_disputes
from billing_dagster.disputes.store import dispute_history
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import pull_statuses
from billing_dagster.gateways.stripe_gateway import StripeGateway
from billing_dagster.gateways.sync import sync_period
from testbed.documents import invoice, line, write_finalized
from tests.gateways.faults import Fault
from tests.gateways.stripe_state import move_dispute, open_dispute, stripe_objects

PERIOD = "2026-10"


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(attempts=6, base_seconds=0.001, max_seconds=0.005, seed=5)


@pytest.fixture
def on_stripe(client, database, proxy, stripe_server, retry) -> dict[str, str]:
    """Two finalized invoices synced to Stripe: our id -> Stripe's."""
    write_finalized(
        client,
        database,
        PERIOD,
        [
            invoice("acme", PERIOD, "USD", [line("fixed_fee", "100.00", "platform")]),
            invoice("globex", PERIOD, "EUR", [line("fixed_fee", "49.99", "platform")]),
        ],
    )
    sync_period(client, database, Gateways.only(_gateway(proxy)), PERIOD, retry)
    return {
        found["metadata"]["billing_invoice_id"]: found["id"]
        for found in stripe_objects(stripe_server)["invoice"]
    }


def _gateway(proxy) -> StripeGateway:
    return StripeGateway("sk_test_disputes", proxy.url)


def _pull(client, database, proxy, retry) -> int:
    pull_statuses(client, database, _gateway(proxy), retry)
    return pull_disputes(client, database, _gateway(proxy), retry)


def dispute_rows(client, database, columns: str) -> list[tuple]:
    """These columns of every row of `disputes`, in the order they were observed."""
    return client.query(
        f"SELECT {columns} FROM `{database}`.disputes ORDER BY observed_at, invoice_id"
    ).result_rows


def _rows(client, database) -> list[tuple]:
    return dispute_rows(
        client,
        database,
        "invoice_id, customer_id, toString(amount), currency, reason, status, gateway_status",
    )


def test_each_state_change_of_a_dispute_is_one_row(
    client, database, proxy, stripe_server, retry, on_stripe
):
    assert _pull(client, database, proxy, retry) == 0  # open invoices: nothing to dispute
    dispute = open_dispute(stripe_server, on_stripe["INV-2026-10-acme"])
    assert _pull(client, database, proxy, retry) == 1
    assert _pull(client, database, proxy, retry) == 0
    move_dispute(stripe_server, dispute["id"], "under_review")
    move_dispute(stripe_server, open_dispute(stripe_server, on_stripe["INV-2026-10-globex"],
                                             amount="1000", reason="product_not_received")["id"],
                 "won")  # fmt: skip
    assert _pull(client, database, proxy, retry) == 2
    move_dispute(stripe_server, dispute["id"], "lost")
    assert _pull(client, database, proxy, retry) == 1
    assert _pull(client, database, proxy, retry) == 0

    assert _rows(client, database) == [
        ("INV-2026-10-acme", "acme", "100", "USD", "fraudulent", "opened", "needs_response"),
        ("INV-2026-10-acme", "acme", "100", "USD", "fraudulent", "opened", "under_review"),
        ("INV-2026-10-globex", "globex", "10", "EUR", "product_not_received", "won", "won"),
        ("INV-2026-10-acme", "acme", "100", "USD", "fraudulent", "lost", "lost"),
    ]
    history = dispute_history(client, database, PERIOD)
    assert [(d["invoice_id"], d["amount"], d["status"]) for d in history] == [
        ("INV-2026-10-acme", "100.00", "lost"),
        ("INV-2026-10-globex", "10.00", "won"),
    ]
    assert all(d["closed_at"] >= d["opened_at"] for d in history)
    assert dispute_history(client, database, "2026-09") == []


def test_a_pull_that_meets_server_errors_records_each_change_once(
    client, database, proxy, stripe_server, retry, on_stripe
):
    open_dispute(stripe_server, on_stripe["INV-2026-10-acme"])
    proxy.reset(lambda request: Fault.ERROR_500 if request.number % 3 == 0 else None)
    assert _pull(client, database, proxy, retry) == 1
    assert _pull(client, database, proxy, retry) == 0
    assert [row[5] for row in _rows(client, database)] == ["opened"]


#: Each vendor's words for a dispute under review and lost.
REVIEWED_AND_LOST = {"chargebee": ("in_review", "lost"), "razorpay": ("under_review", "lost")}


def test_chargebee_and_razorpay_disputes_are_pulled_alike(client, database, vendor, retry):
    invoices = vendor.documents(PERIOD)
    write_finalized(client, database, PERIOD, invoices)
    gateway = vendor.gateway()
    sync_period(client, database, Gateways.only(gateway), PERIOD, retry)
    remote = vendor.assert_exactly_once(invoices)
    first, second = (invoices[0]["invoice_id"], invoices[1]["invoice_id"])
    vendor.pay(remote[first]["id"])
    vendor.pay(remote[second]["id"])

    def pull() -> int:
        pull_statuses(client, database, gateway, retry)
        return pull_disputes(client, database, gateway, retry)

    assert pull() == 0  # paid, undisputed
    dispute = vendor.open_dispute(remote[first]["id"])
    assert pull() == 1
    assert pull() == 0
    reviewed, lost = REVIEWED_AND_LOST[vendor.name]
    vendor.move_dispute(dispute["id"], reviewed)
    assert pull() == 1
    vendor.move_dispute(dispute["id"], lost)
    assert pull() == 1
    assert pull() == 0
    [shown] = dispute_history(client, database)
    assert (shown["invoice_id"], shown["status"], shown["gateway_status"]) == (first, "lost", lost)
    assert (shown["amount"], shown["currency"]) == (invoices[0]["total"], invoices[0]["currency"])
    assert [row[5] for row in _rows(client, database)] == ["opened", "opened", "lost"]
