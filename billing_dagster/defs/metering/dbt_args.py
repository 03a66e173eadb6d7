"""Building dbt command lines from Dagster partitions: pure, so unit-tested."""

from __future__ import annotations

import json
from datetime import datetime, timedelta


def metering_window(start: datetime, end: datetime) -> dict[str, str]:
    """dbt vars for a partition time window [start, end): the first and last day, inclusive."""
    return {
        "min_date": start.date().isoformat(),
        "max_date": (end.date() - timedelta(days=1)).isoformat(),
    }


def build_args(window: dict[str, str] | None = None) -> list[str]:
    """`dbt build`; dagster-dbt adds the selection of the assets being materialized."""
    args = ["build"]
    if window:
        args += ["--vars", json.dumps(window, sort_keys=True)]
    return args
