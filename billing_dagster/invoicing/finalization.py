"""When a billing period may be finalized, and which open period carries late data.

Finalized invoices never change (docs/invoicing.md, "Finalization"). Periods are finalized
in order, after a grace period that lets late events arrive; once a period is finalized,
its late or corrected events are billed by the period right after the last finalized one
(the carrier), as adjustments and credit notes (adjustments.py). Pure: unit-tested.
"""

from __future__ import annotations

from datetime import date, timedelta

from billing_dagster.periods import next_period, period_bounds, period_of

#: Days after a period's end before it is finalized (`BILLING_FINALIZE_GRACE_DAYS`).
DEFAULT_GRACE_DAYS = 3


def grace_ends(period: str, grace_days: int) -> date:
    """The first day on which `period` may be finalized."""
    return period_bounds(period)[1] + timedelta(days=grace_days)


def period_due(today: date, grace_days: int) -> str:
    """The latest period whose grace period has ended by `today`."""
    start_of_month = (today - timedelta(days=grace_days)).replace(day=1)
    return period_of(start_of_month - timedelta(days=1))


def carrier_period(finalized: list[str]) -> str | None:
    """The open period that bills the late data of finalized ones (None: nothing final)."""
    return next_period(max(finalized)) if finalized else None


def rerated_periods(finalized: list[str], late: list[str]) -> list[str]:
    """The finalized periods the carrier re-rates, in order: the earliest with late data and
    every one after it, whose invoices a correction may change through credit balances."""
    return [period for period in finalized if late and period >= min(late)]


def finalization_problems(
    period: str, today: date, grace_days: int, billed: list[str], finalized: list[str]
) -> list[str]:
    """Why `period` cannot be finalized now; empty when it can."""
    problems = []
    if period not in billed:
        problems.append(
            f"period {period} has not been billed; run `billing bill --period {period}`"
        )
    if today < grace_ends(period, grace_days):
        problems.append(
            f"period {period} is in its grace period until {grace_ends(period, grace_days)} "
            f"({grace_days} days after its end, BILLING_FINALIZE_GRACE_DAYS): late events may "
            f"still arrive"
        )
    open_before = [p for p in billed if p < period and p not in finalized]
    if open_before:
        problems.append(
            f"earlier billed periods are not finalized: {', '.join(open_before)}; periods are "
            f"finalized in order"
        )
    return problems
