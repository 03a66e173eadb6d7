"""The metering ledger: which days were metered with which loads and which metric
definitions, so that every command and sensor meters exactly the days that need it.

A metering run records the highest load committed when it started (every event of loads up
to it is in the daily table for the run's days) and the fingerprint of the metrics then in
force. A day needs metering when a later load changed it (its `event_dates`, which include
the days of events it corrected), or when the metrics changed since it was metered: daily
usage is per metric, so a new or removed metric means re-metering history.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.ingest.ledger import committed_loads


def metrics_fingerprint(client: Client, database: str) -> str:
    """The metric definitions and the customers' time zones of the catalog in force, as one
    value ('' before any): a change to either makes every day stale. Customers on UTC add
    nothing, so a catalog without zones has the fingerprint it had before zones existed."""
    db = f"`{database}`"
    in_force = IN_FORCE.format(db=db)
    return client.command(
        f"SELECT hex(sipHash128(concat("
        f"arrayStringConcat(groupArraySorted(1000000)(definition_sha256)), "
        f"(SELECT arrayStringConcat(groupArraySorted(10000000)("
        f"concat(customer_id, '\\0', timezone, '\\0'))) FROM {db}.catalog_customers "
        f"WHERE timezone != 'UTC' AND {in_force})))) "
        f"FROM {db}.catalog_metrics WHERE {in_force}"
    )


def record_metering(
    client: Client, database: str, window: dict[str, str], loads: int, metrics: str
) -> None:
    client.insert(
        f"`{database}`.metering_runs",
        [
            [
                date.fromisoformat(window["min_date"]),
                date.fromisoformat(window["max_date"]),
                loads,
                metrics,
                datetime.now(UTC),
            ]
        ],
        column_names=["min_date", "max_date", "max_load_seq", "metrics_sha", "metered_at"],
    )


def stale_days(client: Client, database: str, first: date, last: date) -> list[date]:
    """Days in [first, last] that a load changed after the day was last metered with the
    metrics in force."""
    db = f"`{database}`"
    changed = client.query(
        f"SELECT day, max(load_seq) FROM {db}.event_loads ARRAY JOIN event_dates AS day "
        f"WHERE day BETWEEN {{first:Date}} AND {{last:Date}} GROUP BY day",
        parameters={"first": first, "last": last},
    ).result_rows
    runs = client.query(
        f"SELECT min_date, max_date, max_load_seq FROM {db}.metering_runs "
        f"WHERE max_date >= {{first:Date}} AND min_date <= {{last:Date}} "
        f"AND metrics_sha = {{metrics:String}}",
        parameters={"first": first, "last": last, "metrics": metrics_fingerprint(client, database)},
    ).result_rows
    return sorted(
        day
        for day, newest_load in changed
        if not any(low <= day <= high and covered >= newest_load for low, high, covered in runs)
    )


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
