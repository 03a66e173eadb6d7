"""Receiving events over HTTP, with a receipt per event.

The warehouse checks a request's events with the loader's own SQL (`staged_lines_sql`), so
a rejection carries the reason the loader would quarantine the line with. Accepted events
and duplicates are appended to the server's open segment and fsync'd before the receipts
are returned (segments.py); rejected ones are answered, not landed. The receipts predict
what the load will do; the load ledger stays the truth (CONTRACT.md §1: first copy wins).

A key is a duplicate when an earlier copy is in the event store (a committed load), in a
segment received but not loaded yet (`_received`), or earlier in the same request.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import latest_catalog_version
from billing_dagster.ingest import landing
from billing_dagster.ingest.check_rounds import CheckRounds
from billing_dagster.ingest.landing_day import waiting_files
from billing_dagster.ingest.ledger import loaded_of
from billing_dagster.ingest.loader import (
    event_hash_sql,
    exact_properties,
    number_out_of_range,
    number_out_of_range_reason,
    orphan_correction_reason,
    staged_lines_sql,
)
from billing_dagster.ingest.segments import SegmentWriter, recover, scratch_directory
from billing_dagster.warehouse.connection import ClickHouseSettings

Status = Literal["accepted", "duplicate", "rejected"]
Key = tuple[str, str]  # (customer_id, event_id)

_CHECK_COLUMNS = (
    "line_no, reason, customer, if(startsWith(raw['event_id'], '\"'), event_id_text, ''), "
    "event_name, timestamp, properties, replaces, "
    f"void, needs_exact_numbers, hex(key_hash), hex({event_hash_sql()}), "
    "if(replaces IS NULL, '', hex(sipHash128(customer, assumeNotNull(replaces))))"
)


class NoCatalog(Exception):
    """Nothing can be received before a catalog is applied."""


class NotYourCustomer(Exception):
    """A key bound to one customer sent an event of another; nothing was received."""


@dataclass(frozen=True)
class CheckedEvent:
    """One event as the warehouse read it: `reason` is '' when it is valid."""

    line: str
    reason: str
    customer_id: str
    event_id: str
    event_name: str
    timestamp: datetime
    properties: dict[str, str]
    replaces: str | None
    void: bool
    key_hash: str
    content_hash: str
    target_hash: str  # key hash of the event a correction replaces ('' for others)

    @property
    def key(self) -> Key:
        return (self.customer_id, self.event_id)


@dataclass(frozen=True)
class Receipt:
    index: int
    event_id: str | None
    status: Status
    reason: str | None

    def document(self) -> dict:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "status": self.status,
            "reason": self.reason,
        }


class EventReceiver:
    """Receives requests' events for one server; `on_accepted` hears of every accepted
    event once it is durable, with the number of its segment (the entitlements' live tail);
    `sealed` maps the numbers of sealed segments to the landed files' hashes."""

    def __init__(
        self,
        home: Path,
        warehouse: ClickHouseSettings,
        client: Callable[[], Client],
        on_accepted: Callable[[list[CheckedEvent], int], None] = lambda events, segment: None,
        seal_after_s: float = 5.0,
    ):
        self.home = Path(home)
        self.warehouse = warehouse
        self.client = client
        self.on_accepted = on_accepted
        self.segments = SegmentWriter(home, seal_after_s)
        #: First copies received and not loaded yet: key -> content hash.
        self._received: dict[Key, str] = {}
        self._open_keys: list[Key] = []
        self._sealed: dict[str, list[Key]] = {}  # landed file hash -> its first copies
        self.sealed: dict[int, str] = {}
        self._loaded_since: dict[str, float] = {}  # landed file hash -> when seen loaded
        self._checks: dict[int, float] = {}  # checks in flight -> when they started
        self._check_numbers = itertools.count()
        self._rounds = CheckRounds(self._check_now)
        self._checks_lock = threading.Lock()

    # -- start and stop ---------------------------------------------------------------

    def start(self) -> list[landing.LandedFile]:
        """Seal what a killed server left, and remember the keys of every landed file not
        loaded yet, so their events are known as received."""
        sealed = recover(self.home)
        waiting = waiting_files(self.home, self.client(), self.warehouse.database)
        for files in waiting.values():
            for landed in files:
                self._sealed[landed.sha256] = self._first_copies(landed.path)
        return sealed

    def stop(self) -> None:
        with self.segments.lock:
            self._seal()

    # -- receiving ----------------------------------------------------------------------

    def receive(self, lines: list[str], customer_id: str | None = None) -> list[Receipt]:
        """Check, land and answer one request's events (lines of JSON, one per event). With
        `customer_id` (a key bound to a customer), an event of another customer refuses the
        whole request."""
        with self._in_flight():
            return self.record(self.check(lines), customer_id)

    def record(self, checked: list[CheckedEvent], customer_id: str | None = None) -> list[Receipt]:
        """Land checked events and answer with their receipts."""
        with self._in_flight():
            if customer_id is not None:
                _only_of(customer_id, checked)
            stored = self._stored_first_copies(checked)
            with self.segments.lock:
                receipts, landed, accepted = self._decide(checked, stored)
                self.segments.append([event.line for event in landed])
                for event in accepted:
                    self._received[event.key] = event.content_hash
                    self._open_keys.append(event.key)
                self.on_accepted(accepted, self.segments.number)
                if self.segments.due():
                    self._seal()
            return receipts

    def known(self, event: CheckedEvent) -> bool:
        """Whether an earlier copy of the event was received (a resend)."""
        return event.key in self._received or bool(self._stored_first_copies([event]))

    @contextmanager
    def _in_flight(self):
        """Marks a check as running (see `forget_loaded`)."""
        number = next(self._check_numbers)
        with self._checks_lock:
            self._checks[number] = time.monotonic()
        try:
            yield
        finally:
            with self._checks_lock:
                del self._checks[number]

    def check(self, lines: list[str]) -> list[CheckedEvent]:
        """The warehouse's reading of each line, in order (the loader's checks), in a round
        shared with the requests that arrive meanwhile (check_rounds.py)."""
        return self._rounds.check(lines)

    def _check_now(self, lines: list[str]) -> list[CheckedEvent]:
        client = self.client()
        version = latest_catalog_version(client, self.warehouse.database)
        if version is None:
            raise NoCatalog("no catalog has been applied; run `billing catalog apply FILE`")
        scratch = scratch_directory(self.home)
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"{uuid.uuid4().hex}.jsonl"
        path.write_text("".join(line + "\n" for line in lines))
        try:
            rows = self._check_rows(client, path, version, explain=False)
            if any(reason for _, reason, *_ in rows):
                rows = self._check_rows(client, path, version, explain=True)
        finally:
            path.unlink()
        return [_checked(lines[line_no - 1], *row) for line_no, *row in rows]

    def _check_rows(self, client: Client, path: Path, version: int, explain: bool) -> list:
        """The loader's reading of the file; its reasons only when asked to `explain` (what
        costs most of the query's time), which a request with no bad event does not need."""
        select = staged_lines_sql(
            f"`{self.warehouse.database}`", self.warehouse.file_path(path), version, explain=explain
        )
        return client.query(
            f"SELECT {_CHECK_COLUMNS} FROM ({select}) ORDER BY line_no",
            settings={"short_circuit_function_evaluation": "force_enable"},
        ).result_rows

    def seal_if_due(self) -> None:
        with self.segments.lock:
            if self.segments.due():
                self._seal()

    # -- what is received but not loaded ------------------------------------------------

    def received(self, key: Key) -> bool:
        return key in self._received

    def forget_loaded(self) -> None:
        """Drop the keys of files the ingest job has loaded: the event store knows them now.
        Only once no check that began before the load was seen is still running, since
        such a check may have looked for them in the store before they were there."""
        loaded = loaded_of(self.client(), self.warehouse.database, list(self._sealed))
        now = time.monotonic()
        for sha in loaded:
            self._loaded_since.setdefault(sha, now)
        with self._checks_lock:
            oldest = min(self._checks.values(), default=float("inf"))
        with self.segments.lock:
            for sha, seen in list(self._loaded_since.items()):
                if seen < oldest:
                    for key in self._sealed.pop(sha, []):
                        self._received.pop(key, None)
                    del self._loaded_since[sha]

    # -- internals ----------------------------------------------------------------------

    def _decide(
        self, checked: list[CheckedEvent], stored: dict[str, str]
    ) -> tuple[list[Receipt], list[CheckedEvent], list[CheckedEvent]]:
        """Receipts, the events to land (accepted and duplicates) and the accepted ones."""
        receipts, landed, accepted = [], [], []
        earlier: dict[Key, tuple[int, str]] = {}
        known_hashes = set(stored)
        for index, event in enumerate(checked):
            reason = event.reason
            if not reason and event.target_hash:
                target = (event.customer_id, event.replaces or "")
                if not (
                    event.target_hash in known_hashes
                    or target in self._received
                    or target in earlier
                ):
                    reason = orphan_correction_reason(*target)
            if reason:
                receipts.append(Receipt(index, event.event_id or None, "rejected", reason))
                continue
            landed.append(event)
            first = _first_copy(event, earlier, self._received, stored)
            if first is None:
                earlier[event.key] = (index, event.content_hash)
                accepted.append(event)
                receipts.append(Receipt(index, event.event_id, "accepted", None))
            else:
                receipts.append(
                    Receipt(index, event.event_id, "duplicate", _duplicate_reason(event, *first))
                )
        return receipts, landed, accepted

    def _stored_first_copies(self, checked: list[CheckedEvent]) -> dict[str, str]:
        """key hash -> content hash of the first copy, for the keys of these events and of
        the events their corrections name, as the event store holds them."""
        hashes = sorted(
            {e.key_hash for e in checked if not e.reason}
            | {e.target_hash for e in checked if e.target_hash and not e.reason}
        )
        if not hashes:
            return {}
        database = f"`{self.warehouse.database}`"
        rows = (
            self.client()
            .query(
                f"SELECT hex(key_hash), hex(argMin({event_hash_sql()}, (load_seq, line_no))) "
                f"FROM {database}.raw_events WHERE hex(key_hash) IN {{hashes:Array(String)}} "
                f"AND load_seq IN (SELECT load_seq FROM {database}.event_loads) GROUP BY key_hash",
                parameters={"hashes": hashes},
            )
            .result_rows
        )
        return dict(rows)

    def _first_copies(self, path: Path) -> list[Key]:
        """Keys of a landed, unloaded file, remembered as received with their first copy."""
        client = self.client()
        version = latest_catalog_version(client, self.warehouse.database)
        if version is None:
            return []
        select = staged_lines_sql(
            f"`{self.warehouse.database}`", self.warehouse.file_path(path), version
        )
        rows = client.query(
            f"SELECT customer, event_id_text, argMin(hex({event_hash_sql()}), line_no) "
            f"FROM ({select}) WHERE reason = '' GROUP BY customer, event_id_text",
            settings={"short_circuit_function_evaluation": "force_enable"},
        ).result_rows
        keys = []
        for customer, event_id, content_hash in rows:
            self._received.setdefault((customer, event_id), content_hash)
            keys.append((customer, event_id))
        return keys

    def _seal(self) -> None:
        number = self.segments.number
        landed = self.segments.seal()
        if landed:
            self._sealed.setdefault(landed.sha256, []).extend(self._open_keys)
            self.sealed[number] = landed.sha256
        self._open_keys = []


def _checked(line: str, reason: str, customer: str, event_id: str, *columns) -> CheckedEvent:
    (event_name, timestamp, properties, replaces, void, exact, key_hash, content_hash, target) = (
        columns
    )
    if reason == "line is not valid JSON":
        number = number_out_of_range(line)
        if number:
            reason = number_out_of_range_reason(number)
    return CheckedEvent(
        line=line,
        reason=reason,
        customer_id=customer,
        event_id=event_id,
        event_name=event_name,
        timestamp=timestamp,
        properties=exact_properties(line) if exact else dict(properties),
        replaces=replaces,
        void=bool(void),
        key_hash=key_hash,
        content_hash=content_hash,
        target_hash=target,
    )


def _only_of(customer_id: str, checked: list[CheckedEvent]) -> None:
    for index, event in enumerate(checked):
        if event.customer_id and event.customer_id != customer_id:
            raise NotYourCustomer(
                f'this key sends events of customer "{customer_id}" only; event {index} is '
                f'of customer "{event.customer_id}"'
            )


def _first_copy(
    event: CheckedEvent,
    earlier: dict[Key, tuple[int, str]],
    received: dict[Key, str],
    stored: dict[str, str],
) -> tuple[int | None, str] | None:
    """(index in this request or None, content hash) of the event's first copy, if any."""
    if event.key in earlier:
        return earlier[event.key]
    if event.key in received:
        return None, received[event.key]
    if event.key_hash in stored:
        return None, stored[event.key_hash]
    return None


def _duplicate_reason(event: CheckedEvent, index: int | None, first_hash: str) -> str:
    where = f"event {index} of this request" if index is not None else "an earlier request"
    if first_hash == event.content_hash:
        return f"already received ({where}); the first copy counts"
    return (
        f"conflict: already received ({where}) with different content; the first copy "
        f"counts and this one is kept as a conflict"
    )
