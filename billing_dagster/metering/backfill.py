"""What late or corrected data requires: which days to re-meter, then which periods to
re-bill, computed from the warehouse's ledgers. One policy: the sensor
(sensors/late_data_backfill.py) asks for it again and again and never requests the same work
twice; every CLI command asks it before billing.

Loads record the days they changed (`event_loads.event_dates`), metering runs the loads and
metrics they saw (`metering_runs`), billing runs the loads they billed (`billing_runs`). Days
changed since they were metered are re-metered first, in runs of consecutive days; a
period is re-billed once none of its days is stale: a draft period whose billing has not
seen its newest load, or, for a finalized period with late data, the open period that
carries its adjustments (invoicing/finalization.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from clickhouse_connect.driver.client import Client

from billing_dagster.ingest.ledger import committed_loads, days_changed_after
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.invoicing.finalization import carrier_period
from billing_dagster.invoicing.store import (
    billed_periods,
    finalizations,
    late_periods,
    latest_run_load_seq,
    newest_loads,
)
from billing_dagster.metering.days import EVENTS_PER_RUN, day_ranges, split_by_events
from billing_dagster.metering.ledger import metrics_fingerprint, stale_days
from billing_dagster.metering.local_days import local_day_slack, periods_of_utc_days


@dataclass(frozen=True)
class MeteringRequest:
    first: date
    last: date
    run_key: str


@dataclass(frozen=True)
class BillingRequest:
    period: str
    run_key: str


@dataclass(frozen=True)
class BackfillCursor:
    """What was already requested: re-metering for the loads up to `metered_up_to` under the
    metrics `metrics`, and per period, re-billing for the loads up to a number."""

    metered_up_to: int = 0
    metrics: str = ""
    billed_up_to: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> BackfillCursor:
        if not text:
            return cls()
        state = json.loads(text)
        billed = tuple(sorted(state["billed_up_to"].items()))
        return cls(state["metered_up_to"], state.get("metrics", ""), billed)

    def text(self) -> str:
        billed = dict(self.billed_up_to)
        return json.dumps(
            {"metered_up_to": self.metered_up_to, "metrics": self.metrics, "billed_up_to": billed}
        )


def ranges_to_meter(client: Client, database: str, last: date, bridge: int = 0):
    """The stale days up to `last`, as metering runs (see `metering_runs`)."""
    stale = stale_days(client, database, FIRST_EVENT_DATE, last)
    return metering_runs(client, database, stale, bridge)


def metering_runs(
    client: Client, database: str, days: list[date], bridge: int = 0
) -> list[tuple[date, date]]:
    """`days` as metering runs: ranges of consecutive days (`day_ranges`), each cut where
    its events pass EVENTS_PER_RUN (`split_by_events`)."""
    ranges = day_ranges(days, bridge)
    if not ranges:
        return []
    events_on = dict(
        client.query(
            f"SELECT event_date, count() FROM `{database}`.raw_events "
            f"WHERE event_date BETWEEN {{first:Date}} AND {{last:Date}} GROUP BY event_date",
            parameters={"first": ranges[0][0], "last": ranges[-1][1]},
        ).result_rows
    )
    return split_by_events(ranges, events_on, EVENTS_PER_RUN)


def periods_to_rebill(
    billed: list[str], finalized: list[str], changed: set[str]
) -> dict[str, set[str]]:
    """Periods to bill again after the data of the `changed` periods changed: each billed
    open one, and the open period that carries the adjustments of changed finalized ones;
    each with the periods whose metering it reads."""
    wanted = {p: {p} for p in changed if p in billed and p not in finalized}
    carrier = carrier_period(finalized)
    late = changed & set(finalized)
    if carrier and late:
        wanted.setdefault(carrier, {carrier}).update(late)
    return wanted


def plan_backfill(
    client: Client, database: str, cursor: BackfillCursor, today: date
) -> tuple[list[MeteringRequest | BillingRequest], BackfillCursor]:
    """The runs to request now, and the cursor that remembers them."""
    loads = committed_loads(client, database)
    metrics = metrics_fingerprint(client, database)
    stale = stale_days(client, database, FIRST_EVENT_DATE, today + timedelta(days=1))
    runs: list[MeteringRequest | BillingRequest] = []
    if metrics != cursor.metrics:
        # New metric definitions: every day is stale, whether requested before or not.
        runs += _metering(stale, loads, metrics)
    elif loads > cursor.metered_up_to:
        # Days of the loads not seen yet; earlier loads' days were requested by earlier ticks.
        new = days_changed_after(client, database, cursor.metered_up_to)
        runs += _metering([day for day in stale if day in new], loads, metrics)
    stale_periods = periods_of_utc_days(stale, local_day_slack(client, database))
    billed = dict(cursor.billed_up_to)
    for period, inputs in _periods_to_bill(client, database).items():
        if billed.get(period, 0) < loads and not stale_periods & inputs:
            runs.append(BillingRequest(period, f"bill-{period}-loads-{loads}"))
            billed[period] = loads
    metered_up_to = max(loads, cursor.metered_up_to)
    return runs, BackfillCursor(metered_up_to, metrics, tuple(sorted(billed.items())))


def _metering(days: list[date], loads: int, metrics: str) -> list[MeteringRequest]:
    """One run per range of consecutive days, not cut by events as a command's are: the
    sensor's runs may run in any order, and a range's usage alerts must be evaluated on
    all of it (`JobRunner.meter_in_runs`)."""
    return [
        MeteringRequest(low, high, f"meter-{low}-{high}-loads-{loads}-metrics-{metrics[:12]}")
        for low, high in day_ranges(days)
    ]


def _periods_to_bill(client: Client, database: str) -> dict[str, set[str]]:
    """Periods whose billing in force has not seen all their data, each with the periods
    whose metering it reads."""
    newest = newest_loads(client, database)
    seen = latest_run_load_seq(client, database)
    billed = billed_periods(client, database)
    finalized = [f.period for f in finalizations(client, database)]
    changed = {p for p in billed if p not in finalized and newest.get(p, 0) > seen.get(p, 0)}
    carrier = carrier_period(finalized)
    if carrier:
        changed |= {
            p for p in late_periods(client, database, carrier) if newest[p] > seen.get(carrier, 0)
        }
    return periods_to_rebill(billed, finalized, changed)
