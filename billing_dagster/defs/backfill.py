"""What late or corrected data requires: which days to re-meter, then which periods to
re-bill, computed from the warehouse's ledgers so that a sensor can ask for it again and
again and never request the same work twice (sensors/late_data_backfill.py).

Loads record the days they changed (`event_loads.event_dates`), metering runs the loads
they saw (`metering_runs`), billing runs the loads they billed (`billing_runs`). Days
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

from billing_dagster.defs.metering.ledger import committed_loads, days_changed_after, stale_days
from billing_dagster.defs.metering.runs import day_ranges
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.invoicing.assemble import period_of
from billing_dagster.invoicing.finalization import carrier_period
from billing_dagster.invoicing.store import (
    billed_periods,
    finalizations,
    late_periods,
    latest_run_load_seq,
    newest_loads,
)


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
    """The loads whose re-metering, and per period whose re-billing, was already requested."""

    metered_up_to: int = 0
    billed_up_to: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> BackfillCursor:
        if not text:
            return cls()
        state = json.loads(text)
        return cls(state["metered_up_to"], tuple(sorted(state["billed_up_to"].items())))

    def text(self) -> str:
        billed = dict(self.billed_up_to)
        return json.dumps({"metered_up_to": self.metered_up_to, "billed_up_to": billed})


def plan_backfill(
    client: Client, database: str, cursor: BackfillCursor, today: date
) -> tuple[list[MeteringRequest | BillingRequest], BackfillCursor]:
    """The runs to request now, and the cursor that remembers them."""
    loads = committed_loads(client, database)
    stale = stale_days(client, database, FIRST_EVENT_DATE, today + timedelta(days=1))
    runs: list[MeteringRequest | BillingRequest] = []
    if loads > cursor.metered_up_to:
        # Days of the loads not seen yet; earlier loads' days were requested by earlier ticks.
        new = days_changed_after(client, database, cursor.metered_up_to)
        runs += [
            MeteringRequest(low, high, f"meter-{low}-{high}-loads-{loads}")
            for low, high in day_ranges([day for day in stale if day in new])
        ]
    stale_periods = {period_of(day) for day in stale}
    billed = dict(cursor.billed_up_to)
    for period, inputs in _periods_to_bill(client, database).items():
        if billed.get(period, 0) < loads and not stale_periods & inputs:
            runs.append(BillingRequest(period, f"bill-{period}-loads-{loads}"))
            billed[period] = loads
    return runs, BackfillCursor(max(loads, cursor.metered_up_to), tuple(sorted(billed.items())))


def _periods_to_bill(client: Client, database: str) -> dict[str, set[str]]:
    """Periods whose billing in force has not seen all their data, each with the periods
    whose metering it reads."""
    newest = newest_loads(client, database)
    seen = latest_run_load_seq(client, database)
    finalized = [f.period for f in finalizations(client, database)]
    wanted: dict[str, set[str]] = {}
    for period in billed_periods(client, database):
        if period not in finalized and newest.get(period, 0) > seen.get(period, 0):
            wanted[period] = {period}
    carrier = carrier_period(finalized)
    if carrier:
        late = [
            p for p in late_periods(client, database, carrier) if newest[p] > seen.get(carrier, 0)
        ]
        if late:
            wanted.setdefault(carrier, {carrier}).update(late)
    return wanted
