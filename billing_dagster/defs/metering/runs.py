"""Metering runs: tags that make one run cover a range of days (the daily assets run as
one), and how changed days group into such ranges.

Dagster reads these two tags for a partition-range run; they are the documented tag names
but are not exported by the public `dagster` module, hence spelled out here.
"""

from __future__ import annotations

from datetime import date, timedelta

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def metering_range_tags(first_day: str, last_day: str) -> dict[str, str]:
    return {PARTITION_RANGE_START_TAG: first_day, PARTITION_RANGE_END_TAG: last_day}


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
