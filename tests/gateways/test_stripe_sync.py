"""The Stripe sync against the real SDK, a fake Stripe server and a fault-injecting proxy:
every invoice exactly once with our lines and total, whatever fails on the way."""

from __future__ import annotations

import pytest

from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import check_totals
from billing_dagster.gateways.stripe_gateway import StripeGateway
from billing_dagster.gateways.sync import SyncRefused, sync_period
from tests.gateways.documents import three_currencies, write_finalized
from tests.gateways.faults import Fault, Request, every
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
    return sync_period(client, database, gateway, PERIOD, retry)


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
    assert "api_calls (pro v1): 186 units; tier 1: 50 × 0 = 0.00; tier 2: 136 × 0.10 + 1.00 = 14.60" in descriptions
    assert check_totals(client, database, gateway, retry, PERIOD).mismatches == []

    proxy.reset()
    again = sync(client, database, gateway, retry)
    assert again.already_synced == summary.synced and not again.synced
    assert [r.method for r in proxy.requests] == []  # the ledger knew everything
    assert_exactly_once(stripe_server, invoices)


def test_only_finalized_periods_are_synced(client, database, gateway, retry):
    with pytest.raises(SyncRefused, match="period 2026-10 is not finalized"):
        sync(client, database, gateway, retry)
