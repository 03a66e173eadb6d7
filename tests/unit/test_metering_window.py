"""The metering window handed to dbt, and the parse state a billing home carries between runs."""

import os
from datetime import UTC, date, datetime

from billing_dagster.defs.metering.dbt_run import (
    KEPT_INVOCATIONS,
    _keep_invocations,
    _keep_parse_state,
)
from billing_dagster.metering.days import day_ranges, split_by_events
from billing_dagster.metering.local_days import local_window, periods_of_utc_days
from billing_dagster.metering.window import metering_window, window_env
from tests.conftest import REPO


def test_a_day_partition_is_a_window_of_one_day():
    window = metering_window(datetime(2026, 10, 15, tzinfo=UTC), datetime(2026, 10, 16, tzinfo=UTC))
    assert window == {"min_date": "2026-10-15", "max_date": "2026-10-15"}


def test_a_partition_range_ends_the_day_before_its_exclusive_end():
    window = metering_window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert window == {"min_date": "2026-02-01", "max_date": "2026-02-28"}


def test_the_window_reaches_dbt_as_the_variables_its_macro_reads():
    env = window_env({"min_date": "2026-10-01", "max_date": "2026-10-31"})
    assert env == {
        "BILLING_METERING_MIN_DATE": "2026-10-01",
        "BILLING_METERING_MAX_DATE": "2026-10-31",
    }
    text = (REPO / "dbt_project/macros/metering_window.sql").read_text()
    assert all(name in text for name in env)


def test_the_last_runs_parse_state_is_kept_and_old_invocations_pruned(tmp_path):
    workspace = tmp_path / "dbt"
    runs = []
    for number in range(KEPT_INVOCATIONS + 3):
        run = workspace / f"metering_daily-{number:03d}"
        run.mkdir(parents=True)
        (run / "partial_parse.msgpack").write_text(f"state {number}")
        os.utime(run, (number, number))
        runs.append(run)
    _keep_parse_state(runs[-1], workspace)
    _keep_invocations(workspace)
    assert (workspace / "partial_parse.msgpack").read_text() == f"state {KEPT_INVOCATIONS + 2}"
    kept = sorted(p.name for p in workspace.iterdir() if p.is_dir())
    assert kept == [run.name for run in runs[3:]]


def test_changed_days_join_into_ranges_across_small_gaps_when_asked():
    days = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 20), date(2026, 12, 5)]
    assert day_ranges(days) == [
        (date(2026, 10, 1), date(2026, 10, 2)),
        (date(2026, 10, 20), date(2026, 10, 20)),
        (date(2026, 12, 5), date(2026, 12, 5)),
    ]
    assert day_ranges(days, bridge=31) == [
        (date(2026, 10, 1), date(2026, 10, 20)),
        (date(2026, 12, 5), date(2026, 12, 5)),
    ]


def test_a_range_is_metered_in_runs_of_consecutive_days_holding_at_most_so_many_events():
    ranges = [(date(2026, 10, 1), date(2026, 10, 5)), (date(2026, 10, 20), date(2026, 10, 20))]
    events_on = {date(2026, 10, 1): 4, date(2026, 10, 2): 5, date(2026, 10, 4): 12}
    events_on[date(2026, 10, 5)] = 1
    assert split_by_events(ranges, events_on, most=10) == [
        (date(2026, 10, 1), date(2026, 10, 3)),  # 9 events; with the 4th, 21
        (date(2026, 10, 4), date(2026, 10, 4)),  # more than 10 on one day: a run of its own
        (date(2026, 10, 5), date(2026, 10, 5)),
        (date(2026, 10, 20), date(2026, 10, 20)),  # no events known: one run
    ]
    assert split_by_events(ranges, events_on, most=22) == ranges


def test_a_window_of_utc_days_widens_to_the_local_days_their_events_fall_on():
    window = {"min_date": "2026-10-01", "max_date": "2026-10-31"}
    assert local_window(window, 0) == window
    assert local_window(window, 1) == {"min_date": "2026-09-30", "max_date": "2026-11-01"}


def test_a_utc_day_reaches_the_periods_of_the_local_days_beside_it():
    first_of_november = [date(2026, 11, 1)]
    assert periods_of_utc_days(first_of_november, 0) == {"2026-11"}
    assert periods_of_utc_days(first_of_november, 1) == {"2026-10", "2026-11"}
    assert periods_of_utc_days([date(2026, 10, 31)], 1) == {"2026-10", "2026-11"}
    assert periods_of_utc_days([date(2026, 10, 15)], 1) == {"2026-10"}
