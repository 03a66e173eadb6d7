"""Checking concurrent requests together: the warehouse spends most of a check reading the
loader's query (about 100 ms on chDB), whatever the number of lines, so the requests that
arrive while one check runs share the next. No thread of its own: the first waiting
request runs a round for everything pending, and a request whose lines were not in that
round runs the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Row = TypeVar("Row")


class _Entry(Generic[Row]):
    def __init__(self, lines: list[str]):
        self.lines = lines
        self.rows: list[Row] | None = None
        self.error: BaseException | None = None


class CheckRounds(Generic[Row]):
    """`check(lines)` answers what `run(lines)` would, one row per line, running `run` once
    for the lines of every request waiting (up to `max_lines` a round)."""

    def __init__(self, run: Callable[[list[str]], list[Row]], max_lines: int = 10_000):
        self.run = run
        self.max_lines = max_lines
        self._pending: list[_Entry[Row]] = []
        self._running = False
        self._changed = threading.Condition()

    def check(self, lines: list[str]) -> list[Row]:
        entry: _Entry[Row] = _Entry(lines)
        with self._changed:
            self._pending.append(entry)
            while entry.rows is None and entry.error is None:
                if self._running:
                    self._changed.wait()
                    continue
                self._running = True
                round_ = self._take()
                self._changed.release()
                try:
                    self._run(round_)
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._changed.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.rows

    def _take(self) -> list[_Entry[Row]]:
        """The pending entries, oldest first, up to `max_lines` (at least one)."""
        taken, lines = [], 0
        while self._pending:
            if taken and lines + len(self._pending[0].lines) > self.max_lines:
                break
            entry = self._pending.pop(0)
            taken.append(entry)
            lines += len(entry.lines)
        return taken

    def _run(self, round_: list[_Entry[Row]]) -> None:
        try:
            rows = self.run([line for entry in round_ for line in entry.lines])
        except BaseException as error:  # every request of the round hears of it
            for entry in round_:
                entry.error = error
            return
        start = 0
        for entry in round_:
            entry.rows = rows[start : start + len(entry.lines)]
            start += len(entry.lines)
