"""A real HTTP webhook receiver for tests: it answers each request as its script says
(fail with 500, hang until released so the sender times out, drop the connection, or
accept), verifies every signature, and dedups on the event id as docs/webhooks.md asks."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from billing_dagster.webhooks.signing import verify


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, secret: str, script: list[str], port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.secret = secret
        self.script = list(script)
        self.release = threading.Event()  # lets hanging requests go
        self.seen: list[str] = []  # event ids of accepted requests, repeats included
        self.bodies: dict[str, dict] = {}
        self.bad_signatures = 0
        self.requests = Counter()  # behaviour -> count
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"

    def unique(self) -> set[str]:
        return set(self.seen)

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    def next_behaviour(self) -> str:
        with self._lock:
            behaviour = self.script.pop(0) if self.script else "ok"
            self.requests[behaviour] += 1
            return behaviour


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        behaviour = self.server.next_behaviour()
        if behaviour == "hang":
            self.server.release.wait()
            return
        if behaviour == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if behaviour == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        header = self.headers["Billing-Signature"]
        timestamp = int(dict(p.split("=", 1) for p in header.split(","))["t"])
        if not verify(self.server.secret, header, body, now=timestamp):
            self.server.bad_signatures += 1
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        event = json.loads(body)
        with self.server._lock:
            self.server.seen.append(event["id"])
            self.server.bodies[event["id"]] = event
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
