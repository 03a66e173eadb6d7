"""`billing serve` as the API tests run it: a process of its own on the test's home and
database, and a small HTTP client that returns status, headers and JSON."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

from tests.conftest import REPO


@contextmanager
def serving(home, *arguments: str):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billing_dagster.cli.main",
            "serve",
            "--port",
            str(port),
            *arguments,
        ],
        cwd=REPO,
        env={**os.environ, "BILLING_HOME": str(home)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until it listens (start-up, not a timed assertion)
            assert process.poll() is None, process.stderr.read()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "billing serve did not listen within 60 s"
                time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(20)


def call(
    method: str,
    url: str,
    key: str | None = None,
    body: bytes | dict | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict, dict]:
    """Status, headers (lower-case names) and JSON answer of one request."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, _lower(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), json.loads(error.read())


def get(url: str, key: str | None = None) -> tuple[int, dict, dict]:
    return call("GET", url, key)


def post(url: str, key: str, body: bytes | dict, **options) -> tuple[int, dict, dict]:
    return call("POST", url, key, body, **options)


def post_announcing(url: str, key: str, length: int) -> tuple[int, dict]:
    """POST that announces a body of `length` bytes and waits for the answer before sending
    it, as a client does with `Expect: 100-continue`: the server may refuse it unread."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", parts.path)
        connection.putheader("Authorization", f"Bearer {key}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def once_changed(request, changed, deadline_s: float = 30):
    """Repeat `request()` until `changed(answer)` holds: for what the server reads again
    every second (revoked keys, metering runs). The deadline only stops a test that would
    otherwise hang; the timing itself is a benchmark's business."""
    deadline = time.monotonic() + deadline_s
    while True:
        answer = request()
        if changed(answer):
            return answer
        assert time.monotonic() < deadline, f"still {answer} after {deadline_s} s"
        time.sleep(0.1)


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
