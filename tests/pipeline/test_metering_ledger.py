"""The metering ledger decides which days billing must re-meter: exactly the changed ones."""

from __future__ import annotations

from datetime import date

from billing_dagster.defs.metering.ledger import record_metering, stale_days


def load(client, database: str, seq: int, *days: date) -> None:
    client.insert(
        f"`{database}`.event_loads",
        [[seq, f"sha{seq}", list(days)]],
        column_names=["load_seq", "file_sha256", "event_dates"],
    )


def test_days_changed_after_their_metering_are_stale_and_no_others(client, database):
    oct1, oct2, oct3, nov1 = (
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 3),
        date(2026, 11, 1),
    )
    load(client, database, 1, oct1, oct2)
    load(client, database, 2, oct3, nov1)
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == [oct1, oct2, oct3]

    record_metering(client, database, {"min_date": "2026-10-01", "max_date": "2026-10-02"}, 2)
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == [oct3]

    load(client, database, 3, oct2)  # a late load corrects a metered day
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == [oct2, oct3]

    record_metering(client, database, {"min_date": "2026-10-01", "max_date": "2026-10-31"}, 3)
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == []
    assert stale_days(client, database, nov1, date(2026, 11, 30)) == [nov1]  # never metered
