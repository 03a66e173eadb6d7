"""The window of a metered feature's period that contains an instant (UTC): the billing
period (calendar month), the day or the hour."""

from __future__ import annotations

from datetime import datetime, timedelta


def window(period: str, instant: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the `period` window containing `instant` (an aware UTC datetime)."""
    if period == "hour":
        start = instant.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    day = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)
