"""Entitlements answered from memory by `billing serve`.

Usage = the exact usage of the last metering run (`exact.read_snapshot`) + the live tail:
the events this server accepted since, bucketed by segment and hour. A segment's buckets
leave the tail only once a metering run has counted its events (`exact.metered_files`),
and that is decided before the new snapshot is read, so usage is never below the exact
figure. Corrections count as new events and voids not at all until the next metering
run, which makes them exact.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Metric
from billing_dagster.entitlements.answers import answer
from billing_dagster.entitlements.blocks import blocks_version, read_blocks
from billing_dagster.entitlements.exact import (
    Feature,
    Snapshot,
    as_utc,
    metered_files,
    metering_runs,
    read_snapshot,
)
from billing_dagster.entitlements.metric_values import metric_value
from billing_dagster.entitlements.windows import window
from billing_dagster.ingest.receiving import CheckedEvent, EventReceiver, Receipt


@dataclass
class Bucket:
    """What the tail's events of one customer and metric add, per segment and hour."""

    count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: tuple[datetime, str, Decimal] | None = None
    distinct: set[str] = field(default_factory=set)

    def add(self, aggregation: str, value: str, timestamp: datetime, event_id: str) -> None:
        self.count += 1
        if aggregation == "count_unique":
            self.distinct.add(value)
        elif aggregation != "count":
            number = Decimal(value)
            self.total += number
            self.maximum = number if self.maximum is None else max(self.maximum, number)
            if self.latest is None or (timestamp, event_id) > self.latest[:2]:
                self.latest = (timestamp, event_id, number)


def combined(aggregation: str, exact: Decimal | None, buckets: list[Bucket]) -> Decimal:
    """Exact usage with the tail's buckets added, the way the aggregation combines."""
    base = exact if exact is not None else Decimal(0)
    if aggregation == "count":
        return base + sum(b.count for b in buckets)
    if aggregation == "sum":
        return base + sum((b.total for b in buckets), Decimal(0))
    if aggregation == "max":
        values = [b.maximum for b in buckets if b.maximum is not None]
        return max([*values, base] if exact is not None else values, default=base)
    if aggregation == "latest":
        latest = max((b.latest for b in buckets if b.latest), default=None)
        return latest[2] if latest else base
    # count_unique: values the tail saw may be among the exact ones; never fewer
    return base + len(set().union(*(b.distinct for b in buckets)))


class LiveEntitlements:
    def __init__(self, client: Callable[[], Client], database: str):
        self.client = client
        self.database = database
        self._lock = threading.Lock()
        self._snapshot = Snapshot(datetime.now(UTC))
        self._by_event: dict[str, list[Metric]] = {}
        self._tail: dict[tuple[str, str], dict[tuple[int, datetime], Bucket]] = {}
        self._runs_seen = -1
        self._windows: set = set()
        self._customer_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        #: customers whose tail grew since `touched()` was last asked (live alerts)
        self._touched: set[str] = set()
        #: customers at a spending cap in the current billing period
        self._capped: frozenset[str] = frozenset()
        #: customers their plan blocks now (a dispute lost, an invoice past due): the reason
        self._blocked: dict[str, str] = {}
        self._blocks_seen: tuple | None = None

    # -- keeping up with the warehouse --------------------------------------------------

    def refresh(self, sealed: dict[int, str], force: bool = False) -> bool:
        """Read exact usage again when a metering run finished or a window turned over,
        and drop the tail's segments it now counts; read the blocks again when they may have
        changed. True when it read usage."""
        now = datetime.now(UTC)
        self._refresh_blocks(now)
        runs = metering_runs(self.client(), self.database)
        windows = self._snapshot.current_windows(now)
        if not force and runs == self._runs_seen and windows == self._windows:
            return False
        with self._lock:
            segments = {segment for buckets in self._tail.values() for segment, _ in buckets}
        files = {segment: sealed[segment] for segment in segments if segment in sealed}
        metered = metered_files(self.client(), self.database, sorted(set(files.values())))
        counted = {segment for segment, sha in files.items() if sha in metered}
        snapshot = read_snapshot(self.client(), self.database, now)
        by_event: dict[str, list[Metric]] = {}
        for metric in snapshot.metrics.values():
            by_event.setdefault(metric.event_name, []).append(metric)
        with self._lock:
            for buckets in self._tail.values():
                for key in [key for key in buckets if key[0] in counted]:
                    del buckets[key]
            self._snapshot, self._by_event = snapshot, by_event
            self._runs_seen, self._windows = runs, windows
        return True

    def add(self, events: list[CheckedEvent], segment: int) -> None:
        """The receiver's callback: accepted events join the tail."""
        with self._lock:
            for event in events:
                if event.void:
                    continue
                self._touched.add(event.customer_id)
                metered = self._metered_metrics(event.customer_id)
                hour = as_utc(event.timestamp).replace(minute=0, second=0, microsecond=0)
                for metric in self._by_event.get(event.event_name, ()):
                    if metric.code not in metered:
                        continue
                    value = metric_value(metric, event.event_name, event.properties)
                    if value is None:
                        continue
                    buckets = self._tail.setdefault((event.customer_id, metric.code), {})
                    bucket = buckets.setdefault((segment, hour), Bucket())
                    bucket.add(metric.aggregation, value, as_utc(event.timestamp), event.event_id)

    def touched(self) -> set[str]:
        """The customers whose live usage grew since the last call."""
        with self._lock:
            touched, self._touched = self._touched, set()
        return touched

    def cap(self, customers: frozenset[str]) -> None:
        """The customers at a spending cap now: their hard-limited features are denied."""
        self._capped = customers

    def _refresh_blocks(self, now: datetime) -> None:
        version = blocks_version(self.client(), self.database, now.date())
        if version != self._blocks_seen:
            self._blocked = read_blocks(self.client(), self.database, now)
            self._blocks_seen = version

    # -- answers ------------------------------------------------------------------------

    def answer(self, customer_id: str, feature_code: str, requested: Decimal) -> dict:
        now = datetime.now(UTC)
        with self._lock:
            return self._answer(customer_id, feature_code, requested, now)

    def answers(self, customer_id: str, requested: Decimal) -> list[dict]:
        now = datetime.now(UTC)
        with self._lock:
            features = sorted(self._snapshot.features.get(customer_id, {}))
            return [self._answer(customer_id, code, requested, now) for code in features]

    def consume(
        self,
        customer_id: str,
        feature_code: str,
        event: CheckedEvent,
        receiver: EventReceiver,
    ) -> tuple[dict, Receipt | None]:
        """Check and record at once: the event is recorded only when the answer allows it,
        under the customer's lock, so concurrent callers cannot overshoot a hard limit. A
        resent event is recorded as the duplicate it is and counts once."""
        with self._customer_locks[customer_id]:
            if receiver.known(event):
                (receipt,) = receiver.record([event])
                return self.answer(customer_id, feature_code, Decimal(0)), receipt
            requested = self.requested(customer_id, feature_code, event)
            decision = self.answer(customer_id, feature_code, requested)
            if not decision["has_access"]:
                return decision, None
            (receipt,) = receiver.record([event])
            return decision, receipt

    def requested(self, customer_id: str, feature_code: str, event: CheckedEvent) -> Decimal:
        """What the event adds to the feature's usage (1 for a count)."""
        with self._lock:
            feature = self._snapshot.features.get(customer_id, {}).get(feature_code)
            metric = self._snapshot.metrics.get(feature.metric_code) if feature else None
        if metric is None:
            return Decimal(0)
        value = metric_value(metric, event.event_name, event.properties)
        if value is None:
            return Decimal(0)
        return Decimal(value) if metric.aggregation == "sum" else Decimal(1)

    # -- internals ----------------------------------------------------------------------

    def _answer(self, customer_id: str, code: str, requested: Decimal, now: datetime) -> dict:
        snapshot = self._snapshot
        features = snapshot.features.get(customer_id)
        feature = (features or {}).get(code)
        usage, span = Decimal(0), None
        if feature is not None and feature.kind == "metered":
            span = window(feature.period, now)
            usage = self._usage(feature, span)
        return answer(
            customer_id,
            code,
            feature,
            features is not None,
            usage,
            requested,
            span,
            snapshot.grants.get((customer_id, code), []),
            snapshot.exact_through,
            now,
            capped=customer_id in self._capped,
            blocked=self._blocked.get(customer_id),
        )

    def _usage(self, feature: Feature, span: tuple[datetime, datetime]) -> Decimal:
        start, end = span
        exact = self._snapshot.usage.get((feature.customer_id, feature.feature, start))
        metric = self._snapshot.metrics.get(feature.metric_code)
        buckets = [
            bucket
            for (_, hour), bucket in self._tail.get(
                (feature.customer_id, feature.metric_code), {}
            ).items()
            if start <= hour < end
        ]
        return combined(metric.aggregation if metric else "count", exact, buckets)

    def _metered_metrics(self, customer_id: str) -> set[str]:
        return {
            f.metric_code
            for f in self._snapshot.features.get(customer_id, {}).values()
            if f.kind == "metered"
        }
