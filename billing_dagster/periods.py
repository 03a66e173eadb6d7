"""Billing periods: calendar months in UTC, spelled `YYYY-MM`.

Dagster's monthly partitions name a period by its first day (`YYYY-MM-01`); everything else
(invoices, the CLI, the warehouse) by `YYYY-MM`. This module is the one place that converts.
"""

from __future__ import annotations

from datetime import date, timedelta


def period_bounds(period: str) -> tuple[date, date]:
    """`YYYY-MM` as [first day, first day of the next month)."""
    year, month = int(period[:4]), int(period[5:7])
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date(year, month, 1), following


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_period(period: str) -> str:
    return period_of(period_bounds(period)[1])


def previous_period(period: str) -> str:
    return period_of(period_bounds(period)[0] - timedelta(days=1))


def partition_key(period: str) -> str:
    """The monthly partition of a period: `2026-10` is `2026-10-01`."""
    return period_bounds(period)[0].isoformat()


def period_of_partition(key: str) -> str:
    """A monthly partition key (`2026-10-01`) as its billing period (`2026-10`)."""
    return period_of(date.fromisoformat(key))
