"""How days that need metering group into metering runs."""

from __future__ import annotations

from datetime import date, timedelta

#: Events one metering run reads at most, unless one day holds more: a run's memory grows
#: with its events (1.6 GiB for a month of 100 M events in one run), so a range holding more
#: is metered in several runs of consecutive days.
EVENTS_PER_RUN = 40_000_000

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


def split_by_events(
    ranges: list[tuple[date, date]], events_on: dict[date, int], most: int
) -> list[tuple[date, date]]:
    """Each range cut into runs of consecutive days holding at most `most` events (by
    `events_on`, a day's events); a day holding more is a run of its own."""
    runs: list[tuple[date, date]] = []
    for first, last in ranges:
        start, held, day = first, 0, first
        while day <= last:
            events = events_on.get(day, 0)
            if held and held + events > most:
                runs.append((start, day - timedelta(days=1)))
                start, held = day, 0
            held += events
            day += timedelta(days=1)
        runs.append((start, last))
    return runs
