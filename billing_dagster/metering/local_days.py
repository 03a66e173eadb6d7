"""Local days: a customer's calendar in its time zone, against the UTC days events are
stored and loads are tracked under (docs/invoicing.md, "Time zones").

UTC offsets run from -12 to +14 hours, so the events of one UTC day fall on local days from
the day before it to the day after it. Where a customer of the catalog in force is off UTC,
metering a UTC day recomputes those local days and a UTC day's change reaches the periods
they belong to; where none is, the slack is 0 and nothing widens.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.periods import period_of


def local_day_slack(client: Client, database: str) -> int:
    """1 when a customer of the catalog in force has a time zone other than UTC, else 0."""
    in_force = IN_FORCE.format(db=f"`{database}`")
    zoned = client.command(
        f"SELECT count() > 0 FROM `{database}`.catalog_customers "
        f"WHERE timezone != 'UTC' AND {in_force}"
    )
    return 1 if zoned else 0


def local_window(window: dict[str, str], slack: int) -> dict[str, str]:
    """The local days a metering window of UTC days [min_date, max_date] recomputes."""
    return {
        "min_date": (date.fromisoformat(window["min_date"]) - timedelta(days=slack)).isoformat(),
        "max_date": (date.fromisoformat(window["max_date"]) + timedelta(days=slack)).isoformat(),
    }


def periods_of_utc_days(days: Iterable[date], slack: int) -> set[str]:
    """The billing periods whose local days the events of these UTC days may fall on."""
    shifts = range(-slack, slack + 1)
    return {period_of(day + timedelta(days=shift)) for day in days for shift in shifts}
