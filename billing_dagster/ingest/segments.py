"""Segments: where events received over HTTP become durable before the API answers.

`billing serve` appends each request's events to its open segment, a JSONL file under
`<home>/landing/api/open/`, and fsyncs it before it answers 202. Every few seconds (or at a
size) it seals the segment: the file lands in the landing zone like any event file
(`landing.land`, named by its content hash) and loads through the ingest job, so the load
ledger, dedup and quarantine stay the one truth.

A server killed at any line leaves at most a partial last line, never acknowledged:
`recover` cuts it off and seals what remains, so no half-written event ever loads. A server
holds a lock on its open segment, so recovery never seals the segment of a live one.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from billing_dagster.ingest import landing


def api_directory(home: Path) -> Path:
    return Path(home) / "landing" / "api"


def open_directory(home: Path) -> Path:
    return api_directory(home) / "open"


def scratch_directory(home: Path) -> Path:
    """Where a request's events wait while the warehouse checks them (never loaded)."""
    return api_directory(home) / "checks"


class SegmentWriter:
    """The open segment of one server; callers serialize `append` and `seal` (one lock)."""

    def __init__(self, home: Path, seal_after_s: float = 5.0, max_bytes: int = 64 << 20):
        self.home = Path(home)
        self.seal_after_s = seal_after_s
        self.max_bytes = max_bytes
        self._file = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self.number = 0  # of the open segment, or of the next one to open
        self.lock = threading.Lock()

    def append(self, lines: list[str]) -> None:
        """Write `lines` and fsync them; on any error the segment is cut back to where it
        was, so an unacknowledged request leaves nothing behind."""
        if not lines:
            return
        if self._file is None:
            self._open()
        data = "".join(line + "\n" for line in lines).encode()
        start = self._file.tell()
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except BaseException:
            self._file.truncate(start)
            self._file.seek(start)
            raise

    def due(self) -> bool:
        return self._file is not None and (
            time.monotonic() - self._opened_at >= self.seal_after_s
            or self._file.tell() >= self.max_bytes
        )

    def seal(self) -> landing.LandedFile | None:
        """Land the open segment (None when there is none or it is empty)."""
        if self._file is None:
            return None
        path, handle = self._path, self._file
        self._file = self._path = None
        self.number += 1
        try:
            return seal_segment(self.home, path)
        finally:
            handle.close()  # releases the lock only once the segment has landed

    def _open(self) -> None:
        directory = open_directory(self.home)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = directory / f"api-{stamp}-{os.getpid()}.jsonl"
        handle = open(path, "ab")  # noqa: SIM115 (open until sealed)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_directory(directory)
        self._file, self._path, self._opened_at = handle, path, time.monotonic()


def seal_segment(home: Path, path: Path) -> landing.LandedFile | None:
    """Land a segment and remove it; safe to repeat after a crash at any line (landing the
    same bytes again finds the first copy)."""
    size = path.stat().st_size
    landed = None
    if size:
        landed = landing.land(home, path, datetime.now(UTC).date())
        with open(landed.path, "rb") as copy:
            os.fsync(copy.fileno())
        _fsync_directory(landed.path.parent)
    path.unlink()
    return landed


def recover(home: Path) -> list[landing.LandedFile]:
    """Seal the segments of servers that are gone, without their partial last line."""
    directory = open_directory(home)
    if not directory.exists():
        return []
    sealed = []
    for path in sorted(directory.glob("*.jsonl")):
        with open(path, "r+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live server's
            _cut_partial_line(handle)
            landed = seal_segment(home, path)
        if landed:
            sealed.append(landed)
    return sealed


def _cut_partial_line(handle) -> None:
    """Truncate after the last newline: what follows was never acknowledged."""
    size = handle.seek(0, os.SEEK_END)
    position = size
    while position > 0:
        step = min(position, 1 << 16)
        handle.seek(position - step)
        newline = handle.read(step).rfind(b"\n")
        if newline >= 0:
            position = position - step + newline + 1
            break
        position -= step
    if position != size:
        handle.truncate(position)
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
