"""`kill -9` of `billing serve` at random moments while 4 clients send events: every event
that got a 202 is in `raw_events` exactly once after restart, with its content, and no
partial line is loaded. Clients resend what got no answer, as a client of any API does.
CI sends `API_FAULT_EVENTS` = 20,000 events with 3 kills; docs/benchmarks.md records a run
of 1,000,000."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import threading
from urllib.parse import urlsplit

from tests.api_client import serving
from tests.catalogs import CONTRACT_EXAMPLE
from tests.support import run

EVENTS = int(os.environ.get("API_FAULT_EVENTS", "20000"))
KILLS = 3
BATCH = 1000


class Feed:
    """The batches to send, each until a 202 answers it; shared by the clients."""

    def __init__(self, batches: int):
        self.waiting = list(range(batches))
        self.acknowledged: set[int] = set()
        self.lock = threading.Lock()

    def next(self) -> int | None:
        with self.lock:
            return self.waiting.pop(0) if self.waiting else None

    def answered(self, batch: int, status: int | None) -> None:
        with self.lock:
            if status == 202:
                self.acknowledged.add(batch)
            else:
                self.waiting.append(batch)  # no answer (or not 202): send it again


def body(batch: int) -> bytes:
    first = batch * BATCH
    events = [
        {"event_id": f"k{n}", "customer_id": "acme", "event_name": "api_request",
         "timestamp": "2026-10-05T12:00:00Z", "properties": {"n": str(n)}}
        for n in range(first, min(first + BATCH, EVENTS))
    ]  # fmt: skip
    return json.dumps({"events": events}).encode()


def send(base: str, key: str, feed: Feed, stop: threading.Event) -> None:
    parts = urlsplit(base)
    while not stop.is_set() and (batch := feed.next()) is not None:
        status = None
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            connection.request("POST", "/v1/events/batch", body=body(batch),
                               headers={"Authorization": f"Bearer {key}",
                                        "Content-Type": "application/json"})  # fmt: skip
            response = connection.getresponse()
            response.read()
            status = response.status
            connection.close()
        except OSError:
            stop.set()  # the server is gone: wait for the next one
        feed.answered(batch, status)


def test_kill_9_at_random_moments_loses_nothing_acknowledged(
    client, database, home, tmp_path, capsys
):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))
    key = json.loads(run(capsys, "keys", "create", "--scope", "ingest"))["secret"]
    batches = -(-EVENTS // BATCH)
    feed, rng = Feed(batches), random.Random(9)
    kills_at = sorted(rng.sample(range(1, max(batches, KILLS + 1)), KILLS))
    for round_ in range(KILLS + 1):
        with serving(home) as (process, base):
            stop = threading.Event()
            senders = [threading.Thread(target=send, args=(base, key, feed, stop))
                       for _ in range(4)]  # fmt: skip
            for sender in senders:
                sender.start()
            if round_ < KILLS:
                while len(feed.acknowledged) < kills_at[round_] and not stop.is_set():
                    stop.wait(0.01)  # until enough batches got their 202
                process.send_signal(signal.SIGKILL)
            for sender in senders:
                sender.join()
    assert len(feed.acknowledged) == batches
    assert json.loads(run(capsys, "ingest"))["quarantined"] == 0
    db = f"`{database}`"
    [(stored, distinct, total)] = client.query(
        f"SELECT count(), uniqExact(event_id), sum(toUInt64(properties['n'])) "
        f"FROM {db}.raw_events WHERE load_seq IN (SELECT load_seq FROM {db}.event_loads)"
    ).result_rows
    assert (stored, distinct, total) == (EVENTS, EVENTS, EVENTS * (EVENTS - 1) // 2)
