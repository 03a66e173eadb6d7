"""What one event adds to a metric, in Python: the twin of dbt model `int_metric_events`
for the events `billing serve` accepted since the last metering run."""

from __future__ import annotations

import re

from billing_dagster.catalog.model import Metric

#: A numeric property value that a quantity (Decimal(38, 12)) holds exactly (macro
#: `decimal_pattern`).
_DECIMAL = re.compile(r"-?[0-9]{1,26}([.][0-9]{1,12})?")


def metric_value(metric: Metric, event_name: str, properties: dict[str, str]) -> str | None:
    """The property text the metric reads from the event ('' for a count), or None when the
    metric does not count it: another event name, a filter that fails, a missing group or
    property, or a value a sum, max or latest cannot read as a number."""
    if event_name != metric.event_name:
        return None
    if any(properties.get(name) not in accepted for name, accepted in metric.filters.items()):
        return None
    if metric.group_by is not None and metric.group_by not in properties:
        return None
    if metric.property is None:
        return ""
    value = properties.get(metric.property)
    if value is None:
        return None
    if metric.aggregation in ("sum", "max", "latest") and not _DECIMAL.fullmatch(value):
        return None
    return value
