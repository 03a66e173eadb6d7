"""Tags that make one run cover a range of metering days (the daily assets run as one).

Dagster reads these two tags for a partition-range run; they are the documented tag names
but are not exported by the public `dagster` module, hence spelled out here.
"""

from __future__ import annotations

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def metering_range_tags(first_day: str, last_day: str) -> dict[str, str]:
    return {PARTITION_RANGE_START_TAG: first_day, PARTITION_RANGE_END_TAG: last_day}
