"""The fake Stripe server (localstripe, extended) for the session, a fault proxy in front of
it, and a clean Stripe state for every test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO
from tests.gateways.faults import FaultProxy


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the fake Stripe server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the fake Stripe server did not listen on port {port} within 20 s")


@pytest.fixture(scope="session")
def stripe_server() -> str:
    """Base URL of a fake Stripe server, started once for the session."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateways.fake_stripe", str(port)], cwd=REPO
    )
    try:
        _wait_until_serving(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


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
