"""Fake gateway servers for the session (localstripe extended, and our fakes of Chargebee and
Razorpay), a fault proxy in front of each, and a clean server for every test."""

from __future__ import annotations

import contextlib
import subprocess

import pytest

from testbed import fake_chargebee, fake_razorpay, fake_stripe
from tests.gateways.faults import (
    FaultProxy,
    chargebee_error,
    emptied,
    razorpay_error,
    stripe_error,
)
from tests.gateways.vendors import VENDORS, Vendor


@pytest.fixture(scope="session")
def stripe_server() -> str:
    """Base URL of a fake Stripe server, started once for the session."""
    with fake_stripe.start() as url:
        yield url


@pytest.fixture(scope="session")
def _proxy(stripe_server) -> FaultProxy:
    proxy = FaultProxy(int(stripe_server.rsplit(":", 1)[1]), error_body=stripe_error).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(_proxy, stripe_server) -> FaultProxy:
    """The fault proxy, with no faults planned and the fake Stripe server emptied."""
    return emptied(stripe_server, _proxy)


_FAKES = {
    "chargebee": (fake_chargebee, chargebee_error),
    "razorpay": (fake_razorpay, razorpay_error),
}


@pytest.fixture(scope="session")
def _vendor_servers():
    """The fake Chargebee and Razorpay servers, each behind its own fault proxy."""
    with contextlib.ExitStack() as stack:
        started = {}
        for name, (fake, error_body) in _FAKES.items():
            url = stack.enter_context(fake.start(stderr=subprocess.DEVNULL))
            proxy = FaultProxy(int(url.rsplit(":", 1)[1]), error_body=error_body).start()
            stack.callback(proxy.stop)
            started[name] = (url, proxy)
        yield started


@pytest.fixture(params=VENDORS)
def vendor(request, _vendor_servers) -> Vendor:
    """Each whole-document gateway in turn, its server emptied, its proxy without faults."""
    server, proxy = _vendor_servers[request.param]
    return Vendor(request.param, server, emptied(server, proxy))
