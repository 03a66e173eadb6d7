"""Usage spikes: a customer's day of a metric far above its trailing baseline.

It reads the view `fct_usage_anomalies` over the daily usage table (one row per customer,
metric, group and day), never raw events, so it costs little next to the metering run it
follows; finance's anomalies report reads the same view.
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
from billing_dagster.defs.quality.scope import Partition, partition_check, result

DAILY_USAGE = dg.AssetKey("fct_metric_usage_daily")

# The rule is the dbt view's (fct_usage_anomalies); the check reads the days of its window.
_SPIKES = """
SELECT usage_date, customer_id, metric_code, events, baseline
FROM {db}.fct_usage_anomalies
WHERE usage_date >= {first:Date} AND usage_date < {end:Date}
ORDER BY usage_date, customer_id, metric_code
"""


@partition_check(
    DAILY_USAGE,
    "usage_spikes",
    metering_days,
    f"A day's events of a customer and metric above {SPIKE_FACTOR}× the median of "
    f"the {SPIKE_BASELINE_DAYS} days before and at least {SPIKE_MIN_EVENTS}.",
)
def usage_spikes(partition: Partition) -> dg.AssetCheckResult:
    days = partition.days
    spikes = partition.rows(_SPIKES)
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
