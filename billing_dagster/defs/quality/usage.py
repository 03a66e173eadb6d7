"""Usage spikes: a customer's day of a metric far above its trailing baseline.

It reads the daily usage table only (one row per customer, metric, group and day), never
raw events, so it costs little next to the metering run it follows.
"""

from datetime import timedelta

import dagster as dg

from billing_dagster.defs.partitions import metering_days
from billing_dagster.defs.quality.rules import (
    SPIKE_BASELINE_DAYS,
    SPIKE_FACTOR,
    SPIKE_MIN_EVENTS,
    listing,
)
from billing_dagster.defs.quality.scope import partition_days, partitioned_check, result
from billing_dagster.defs.resources import ClickHouseResource

DAILY_USAGE = dg.AssetKey("fct_metric_usage_daily")

# The baseline of a day is the median of the `SPIKE_BASELINE_DAYS` days before it, days
# without usage counting as 0 (the frame holds only days with rows: the array is padded).
_SPIKES = f"""
SELECT usage_date, customer_id, metric_code, events, baseline FROM (
    SELECT
        usage_date, customer_id, metric_code, events,
        arraySort(arrayResize(groupArray(events) OVER (
            PARTITION BY customer_id, metric_code ORDER BY day_number
            RANGE BETWEEN {SPIKE_BASELINE_DAYS} PRECEDING AND 1 PRECEDING
        ), {SPIKE_BASELINE_DAYS}, 0))[{SPIKE_BASELINE_DAYS // 2 + 1}] AS baseline
    FROM (
        SELECT usage_date, toUInt32(usage_date) AS day_number, customer_id, metric_code,
               sum(event_count) AS events
        FROM {{db}}.fct_metric_usage_daily
        WHERE usage_date >= {{since:Date}} AND usage_date < {{end:Date}}
        GROUP BY usage_date, customer_id, metric_code
    )
)
WHERE usage_date >= {{first:Date}} AND events >= {SPIKE_MIN_EVENTS}
  AND baseline > 0 AND events > {SPIKE_FACTOR} * baseline
ORDER BY usage_date, customer_id, metric_code
"""


@partitioned_check(
    DAILY_USAGE,
    "usage_spikes",
    metering_days,
    f"A day's events of a customer and metric above {SPIKE_FACTOR}× the median of "
    f"the {SPIKE_BASELINE_DAYS} days before and at least {SPIKE_MIN_EVENTS}.",
)
def usage_spikes(
    context: dg.AssetCheckExecutionContext, clickhouse: ClickHouseResource
) -> dg.AssetCheckResult:
    days = partition_days(context)
    spikes = (
        clickhouse.get_client()
        .query(
            _SPIKES.replace("{db}", f"`{clickhouse.database}`"),
            parameters={**days, "since": days["first"] - timedelta(days=SPIKE_BASELINE_DAYS)},
        )
        .result_rows
    )
    found = [
        f'customer "{customer}" metric "{metric}" on {day.isoformat()}: {events} events, '
        f"{SPIKE_BASELINE_DAYS}-day median {baseline}"
        for day, customer, metric, events, baseline in spikes
    ]
    description = (
        f"{len(spikes)} usage spikes: {listing(found)}"
        if spikes
        else f"no usage spike from {days['first']} to {days['end'] - timedelta(days=1)}"
    )
    return result(
        not spikes,
        description,
        spikes=[
            {
                "customer_id": customer,
                "metric": metric,
                "day": day.isoformat(),
                "events": events,
                "baseline": baseline,
            }
            for day, customer, metric, events, baseline in spikes
        ],
    )
