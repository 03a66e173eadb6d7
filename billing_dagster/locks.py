"""Locks on the billing home that make concurrent commands equal to running them in turn.

Seven locks, each a file under `<home>/locks/` held with `flock` for as long as the work:

* `catalog`: applying a catalog or a plan migration (a version number is taken and its rows
  written);
* `refunds`: issuing a refund (what is left to refund is read, then the refund written);
* `gateway_sync`: a sync to the payment gateways (each document is looked up, then created:
  two syncs at once could both create it where the gateway has no idempotency key);
* `event_loads`: loading event files (first copy wins depends on load order);
* `alerts`: deciding and recording alert transitions (each alert triggers once);
* `webhooks`: a round of webhook deliveries (one deliverer at a time);
* `usage`: metering (dbt rewrites days of daily usage) and billing or finalizing a period
  (which read that usage): a bill never reads a day half re-metered; a plan migration holds
  it too (after `catalog`), so no period is finalized under it.

A command that finds a lock taken waits for it and says so on stderr. The kernel releases a
lock when its holder dies, so a killed command never leaves one behind.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CATALOG = "catalog"
EVENT_LOADS = "event_loads"
USAGE = "usage"
ALERTS = "alerts"
WEBHOOKS = "webhooks"
REFUNDS = "refunds"
GATEWAY_SYNC = "gateway_sync"
DISPUTES = "disputes"


@contextmanager
def home_lock(home: Path, name: str) -> Iterator[None]:
    """Hold the home's `name` lock; wait while another process holds it."""
    with _lock_file(home, name) as handle:
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            print(f"billing: waiting for the {name} lock, held by {holder}", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def home_lock_if_free(home: Path, name: str) -> Iterator[bool]:
    """Hold the home's `name` lock if nobody does; yields whether it is held. For work that
    another holder is doing anyway (a round of webhook deliveries)."""
    with _lock_file(home, name) as handle:
        if not _try_lock(handle):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_file(home: Path, name: str):
    directory = Path(home) / "locks"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return open(directory / f"{name}.lock", "a+")


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
