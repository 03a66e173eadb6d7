"""A fault-injecting HTTP proxy between the Stripe SDK and the fake Stripe server.

Deterministic: every request gets a number (1, 2, ...) and the test's `plan` decides, from
the number and the request, what happens to it: forwarded (None), or a `Fault`. No timing,
no randomness. It runs its own event loop in a thread so the sync under test runs normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest


class Fault(enum.Enum):
    DROP_RESPONSE = "drop"  # forwarded and processed, then the connection closes unanswered
    CUT = "cut"  # the connection closes before the request reaches the server
    ERROR_500 = "500"
    RATE_LIMIT = "429"
    BAD_REQUEST = "400"
    UNAUTHORIZED = "401"


@dataclass(frozen=True)
class Request:
    number: int
    method: str
    path: str
    body: bytes


Plan = Callable[[Request], Fault | None]

_ERRORS = {
    Fault.ERROR_500: (500, "Internal Server Error", "api_error", "injected server error"),
    Fault.RATE_LIMIT: (429, "Too Many Requests", "invalid_request_error", "injected rate limit"),
    Fault.BAD_REQUEST: (400, "Bad Request", "invalid_request_error", "injected bad request"),
    Fault.UNAUTHORIZED: (401, "Unauthorized", "authentication_error", "Invalid API Key"),
}


#: Each vendor's error body for (status, kind, message): what its SDK parses.
def stripe_error(status: int, kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def chargebee_error(status: int, kind: str, message: str) -> dict:
    codes = {
        500: "internal_error",
        429: "api_request_limit_exceeded",
        401: "api_authentication_failed",
    }
    return {
        "message": message,
        "type": "invalid_request",
        "api_error_code": codes.get(status, "param_wrong_value"),
        "http_status_code": status,
    }


def razorpay_error(status: int, kind: str, message: str) -> dict:
    code = "SERVER_ERROR" if status >= 500 else "BAD_REQUEST_ERROR"
    return {"error": {"code": code, "description": message}}


def nth(faults: dict[int, Fault]) -> Plan:
    """Fault the requests with these numbers."""
    return lambda request: faults.get(request.number)


def every(fault: Fault, after: int = 0) -> Plan:
    """Fault every request after the first `after`: the gateway has gone away."""
    return lambda request: fault if request.number > after else None


@dataclass
class FaultProxy:
    upstream_port: int
    plan: Plan = lambda request: None
    #: Called after the server processed request N, before its response (a kill switch).
    after_forward: Callable[[Request], None] = lambda request: None
    port: int = 0
    error_body: Callable[[int, str, str], dict] = stripe_error
    requests: list[Request] = field(default_factory=list)
    faults: list[tuple[int, Fault]] = field(default_factory=list)

    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            async with self._server:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._server.serve_forever()

        self._thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(serve()), daemon=True
        )
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(10)

    def reset(self, plan: Plan | None = None) -> None:
        self.plan = plan or (lambda request: None)
        self.after_forward = lambda request: None
        self.requests.clear()
        self.faults.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = next(
                    (
                        int(h.split(":", 1)[1])
                        for h in lines
                        if h.lower().startswith("content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length) if length else b""
                request = Request(len(self.requests) + 1, method, path.split("?")[0], body)
                self.requests.append(request)
                fault = self.plan(request)
                if fault is not None:
                    self.faults.append((request.number, fault))
                if fault is Fault.CUT:
                    return
                if fault in _ERRORS:
                    writer.write(self._error_response(*_ERRORS[fault]))
                    await writer.drain()
                    continue
                response = await self._forward(head, body)
                self.after_forward(request)
                if fault is Fault.DROP_RESPONSE:
                    return
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        """One request on its own upstream connection; the response read whole."""
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        lines = [
            line
            for line in head.decode("latin-1").split("\r\n")
            if line and not line.lower().startswith("connection:")
        ]
        upstream_writer.write(
            ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1") + body
        )
        await upstream_writer.drain()
        response = await upstream_reader.read()
        upstream_writer.close()
        return response

    def _error_response(self, status: int, reason: str, kind: str, message: str) -> bytes:
        body = json.dumps(self.error_body(status, kind, message)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRequest-Id: req_injected\r\n\r\n"
        )
        return head.encode() + body


def first_time_each_create(fault: Fault) -> Plan:
    """Every create fails once: the first time its exact request is seen."""
    seen: set[tuple[str, bytes]] = set()

    def plan(request: Request) -> Fault | None:
        key = (request.path, request.body)
        if request.method != "POST" or key in seen:
            return None
        seen.add(key)
        return fault

    return plan


def fault_matrix() -> list:
    """The faults every gateway's sync must come through exactly once (pytest params)."""
    return [
        pytest.param(first_time_each_create(Fault.DROP_RESPONSE), id="every-response-lost-once"),
        pytest.param(lambda r: Fault.ERROR_500 if r.number % 3 == 0 else None, id="500-every-3rd"),
        pytest.param(lambda r: Fault.RATE_LIMIT if r.number % 3 == 2 else None, id="429-every-3rd"),
        pytest.param(lambda r: Fault.CUT if r.number % 3 == 1 else None, id="cut-every-3rd"),
    ]


def emptied(server: str, proxy: FaultProxy) -> FaultProxy:
    """The fake server behind `proxy` emptied, and the proxy without faults planned."""
    request = urllib.request.Request(f"{server}/_config/data", method="DELETE")
    urllib.request.urlopen(request).close()
    proxy.reset()
    return proxy
