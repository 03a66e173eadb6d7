"""The metering window: the days one metering run recomputes.

A run names its window as Dagster's partition-range tags (one run covers a range of daily
partitions); the asset reads it back from its partition time window. dbt reads it from
environment variables (macro `metering_window`), not from `--vars`: vars that change on every
run make dbt discard its partial parse and parse the whole project again (~2.5 s per run,
docs/benchmarks.md). Pure, so unit-tested.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

MIN_DATE_VAR = "BILLING_METERING_MIN_DATE"
MAX_DATE_VAR = "BILLING_METERING_MAX_DATE"

#: The tags Dagster reads for a partition-range run: documented, but not exported by the
#: public `dagster` module, hence spelled out here.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def metering_range_tags(first: date, last: date) -> dict[str, str]:
    """The run tags of a metering run over the days [first, last]."""
    return {PARTITION_RANGE_START_TAG: first.isoformat(), PARTITION_RANGE_END_TAG: last.isoformat()}


def metering_window(start: datetime, end: datetime) -> dict[str, str]:
    """A partition time window [start, end) as its first and last day, inclusive."""
    return {
        "min_date": start.date().isoformat(),
        "max_date": (end.date() - timedelta(days=1)).isoformat(),
    }


def window_env(window: dict[str, str]) -> dict[str, str]:
    """The environment variables that give dbt the window."""
    return {MIN_DATE_VAR: window["min_date"], MAX_DATE_VAR: window["max_date"]}
