"""The metering ledger: which days were metered with which loads, so billing re-meters only
the days that loads changed since (and never skips one).

A metering run records the highest load committed when it started: every event of loads up
to it is in the daily table for the run's days. A day needs metering when a later load
changed it (its `event_dates`, which include the days of events it corrected).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client


def committed_loads(client: Client, database: str) -> int:
    return int(client.command(f"SELECT max(load_seq) FROM `{database}`.event_loads") or 0)


def record_metering(client: Client, database: str, window: dict[str, str], loads: int) -> None:
    client.insert(
        f"`{database}`.metering_runs",
        [
            [
                date.fromisoformat(window["min_date"]),
                date.fromisoformat(window["max_date"]),
                loads,
                datetime.now(UTC),
            ]
        ],
        column_names=["min_date", "max_date", "max_load_seq", "metered_at"],
    )


def stale_days(client: Client, database: str, first: date, last: date) -> list[date]:
    """Days in [first, last] that a load changed after the day was last metered."""
    db = f"`{database}`"
    changed = client.query(
        f"SELECT day, max(load_seq) FROM {db}.event_loads ARRAY JOIN event_dates AS day "
        f"WHERE day BETWEEN {{first:Date}} AND {{last:Date}} GROUP BY day",
        parameters={"first": first, "last": last},
    ).result_rows
    runs = client.query(
        f"SELECT min_date, max_date, max_load_seq FROM {db}.metering_runs "
        f"WHERE max_date >= {{first:Date}} AND min_date <= {{last:Date}}",
        parameters={"first": first, "last": last},
    ).result_rows
    return sorted(
        day
        for day, newest_load in changed
        if not any(low <= day <= high and covered >= newest_load for low, high, covered in runs)
    )


def days_changed_after(client: Client, database: str, load_seq: int) -> set[date]:
    """Days that loads committed after `load_seq` changed."""
    rows = client.query(
        f"SELECT DISTINCT day FROM `{database}`.event_loads ARRAY JOIN event_dates AS day "
        f"WHERE load_seq > {{seq:UInt64}}",
        parameters={"seq": load_seq},
    ).result_rows
    return {day for (day,) in rows}


def metered_loads(client: Client, database: str) -> int:
    """The newest load whose events, and those of every load before it, are all in the daily
    usage: what a billing run has seen. A load committed but not yet metered (another
    command is loading or metering) is not seen, so the period is billed again after it."""
    db = f"`{database}`"
    first_unmetered = client.command(
        f"SELECT min(changed.load_seq) FROM "
        f"(SELECT day, load_seq FROM {db}.event_loads ARRAY JOIN event_dates AS day) AS changed "
        f"LEFT JOIN (SELECT day, max(max_load_seq) AS covered FROM {db}.metering_runs "
        f"ARRAY JOIN arrayMap(n -> min_date + n, range(toUInt32(max_date - min_date) + 1)) "
        f"AS day GROUP BY day) AS metered USING day "
        f"WHERE changed.load_seq > metered.covered",
        settings={"join_use_nulls": 0},
    )
    if first_unmetered:
        return int(first_unmetered) - 1
    return committed_loads(client, database)
