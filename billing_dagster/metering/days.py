"""How days that need metering group into metering runs."""

from __future__ import annotations

from datetime import date, timedelta

#: Unchanged days a command's metering run may re-meter to join two ranges into one: a run
#: costs about a second whatever it covers, a day re-metered costs its own events' SQL.
BRIDGE_DAYS = 31


def day_ranges(days: list[date], bridge: int = 0) -> list[tuple[date, date]]:
    """Days as the fewest runs of consecutive days: metering a range recomputes every day in
    it, so days with a gap between them are metered by separate runs, unless the gap is at
    most `bridge` days (re-metering those unchanged days changes nothing)."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day <= ranges[-1][1] + timedelta(days=1 + bridge):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
