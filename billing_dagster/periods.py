"""Billing periods: calendar months on the customer's calendar (UTC unless its catalog entry
names a time zone), spelled `YYYY-MM`.

Dagster's monthly partitions name a period by its first day (`YYYY-MM-01`); everything else
(invoices, the CLI, the warehouse) by `YYYY-MM`. This module is the one place that converts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


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


def period_instants(period: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in a time zone, as aware local datetimes: its first local
    midnight and the next month's (docs/invoicing.md, "Time zones")."""
    zone = ZoneInfo(timezone)
    return tuple(datetime(d.year, d.month, d.day, tzinfo=zone) for d in period_bounds(period))


def period_fields(period: str, timezone: str) -> dict[str, str]:
    """What an invoice of a customer off UTC says of its period: the zone, the period's
    bounds in local time and in UTC (ISO 8601). A UTC customer's invoice has none of them."""
    if timezone == "UTC":
        return {}
    start, end = period_instants(period, timezone)
    utc = [moment.astimezone(UTC).isoformat().replace("+00:00", "Z") for moment in (start, end)]
    return {
        "timezone": timezone,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "period_start_utc": utc[0],
        "period_end_utc": utc[1],
    }
