"""Starting a fake gateway server (`testbed.fake_stripe`, `fake_chargebee`, `fake_razorpay`)
in a subprocess on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def start(module: str, **popen):
    """`python -m <module> PORT` for the block: yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repository = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-m", module, str(port)], cwd=repository, **popen)
    try:
        _wait_until_serving(module, port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_until_serving(module: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{module} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{module} did not listen on port {port} within 20 s")
