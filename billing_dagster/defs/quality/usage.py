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
from billing_dagster.defs.quality.scope import Partition, partition_check, result

DAILY_USAGE = dg.AssetKey("fct_metric_usage_daily")

# Candidates first: the window's days at or above the floor (few). The baseline of each is
# the median of the `SPIKE_BASELINE_DAYS` days before it, days without usage counting as 0
# (the array of the days that have rows is padded with zeros).
_SPIKES = f"""
WITH
candidates AS (
    SELECT usage_date, customer_id, metric_code, sum(event_count) AS events
    FROM {{db}}.fct_metric_usage_daily
    WHERE usage_date >= {{first:Date}} AND usage_date < {{end:Date}}
    GROUP BY usage_date, customer_id, metric_code
    HAVING events >= {SPIKE_MIN_EVENTS}
),
earlier AS (
    SELECT usage_date, customer_id, metric_code, sum(event_count) AS events
    FROM {{db}}.fct_metric_usage_daily
    WHERE usage_date >= {{since:Date}} AND usage_date < {{end:Date}}
      AND (customer_id, metric_code) IN (SELECT customer_id, metric_code FROM candidates)
    GROUP BY usage_date, customer_id, metric_code
)
SELECT c.usage_date, c.customer_id, c.metric_code, c.events,
       arraySort(arrayResize(groupArray(p.events), {SPIKE_BASELINE_DAYS}, 0))
           [{SPIKE_BASELINE_DAYS // 2 + 1}] AS baseline
FROM candidates AS c
JOIN earlier AS p ON c.customer_id = p.customer_id AND c.metric_code = p.metric_code
WHERE p.usage_date >= c.usage_date - {SPIKE_BASELINE_DAYS} AND p.usage_date < c.usage_date
GROUP BY c.usage_date, c.customer_id, c.metric_code, c.events
HAVING baseline > 0 AND c.events > {SPIKE_FACTOR} * baseline
ORDER BY c.usage_date, c.customer_id, c.metric_code
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
    spikes = partition.rows(_SPIKES, since=days["first"] - timedelta(days=SPIKE_BASELINE_DAYS))
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
