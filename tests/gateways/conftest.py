"""The fake Stripe server (localstripe, extended) for the session, a fault proxy in front of
it, and a clean Stripe state for every test."""

from __future__ import annotations

import urllib.request

import pytest

from testbed import fake_stripe
from tests.gateways.faults import FaultProxy


@pytest.fixture(scope="session")
def stripe_server() -> str:
    """Base URL of a fake Stripe server, started once for the session."""
    with fake_stripe.start() as url:
        yield url


@pytest.fixture(scope="session")
def _proxy(stripe_server) -> FaultProxy:
    proxy = FaultProxy(int(stripe_server.rsplit(":", 1)[1])).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(_proxy, stripe_server) -> FaultProxy:
    """The fault proxy, with no faults planned and the fake Stripe server emptied."""
    request = urllib.request.Request(f"{stripe_server}/_config/data", method="DELETE")
    urllib.request.urlopen(request).close()
    _proxy.reset()
    return _proxy
