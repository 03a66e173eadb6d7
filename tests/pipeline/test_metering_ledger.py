"""The metering ledger decides which days billing must re-meter: exactly the changed ones, or
every day with events once the metrics changed."""

from __future__ import annotations

from datetime import date

from billing_dagster.metering.ledger import metrics_fingerprint, record_metering, stale_days


def load(client, database: str, seq: int, *days: date) -> None:
    client.insert(
        f"`{database}`.event_loads",
        [[seq, f"sha{seq}", list(days)]],
        column_names=["load_seq", "file_sha256", "event_dates"],
    )


def meter(client, database: str, first: str, last: str, loads: int) -> None:
    window = {"min_date": first, "max_date": last}
    record_metering(client, database, window, loads, metrics_fingerprint(client, database))


def apply_metrics(client, database: str, version: int, *definitions: str) -> None:
    client.insert(f"`{database}`.catalog_versions", [[version]], column_names=["catalog_version"])
    client.insert(
        f"`{database}`.catalog_metrics",
        [[version, f"m{n}", sha] for n, sha in enumerate(definitions)],
        column_names=["catalog_version", "code", "definition_sha256"],
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

    meter(client, database, "2026-10-01", "2026-10-02", 2)
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == [oct3]

    load(client, database, 3, oct2)  # a late load corrects a metered day
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == [oct2, oct3]

    meter(client, database, "2026-10-01", "2026-10-31", 3)
    assert stale_days(client, database, oct1, date(2026, 10, 31)) == []
    assert stale_days(client, database, nov1, date(2026, 11, 30)) == [nov1]  # never metered


def test_a_metric_change_makes_every_day_with_events_stale(client, database):
    oct1, oct5, oct31 = date(2026, 10, 1), date(2026, 10, 5), date(2026, 10, 31)
    apply_metrics(client, database, 1, "calls-v1")
    load(client, database, 1, oct1, oct5)
    meter(client, database, "2026-10-01", "2026-10-31", 1)
    assert stale_days(client, database, oct1, oct31) == []

    apply_metrics(client, database, 2, "calls-v1")  # a new catalog, the same metrics
    assert stale_days(client, database, oct1, oct31) == []

    apply_metrics(client, database, 3, "calls-v1", "tokens-v1")  # a new metric
    assert stale_days(client, database, oct1, oct31) == [oct1, oct5]
    meter(client, database, "2026-10-01", "2026-10-31", 1)
    assert stale_days(client, database, oct1, oct31) == []

    apply_metrics(client, database, 4, "tokens-v1")  # a metric removed
    assert stale_days(client, database, oct1, oct31) == [oct1, oct5]
