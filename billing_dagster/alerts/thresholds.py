"""Which of a rule's thresholds a figure has reached: a pure function, so the metering
path and `billing serve` agree on every crossing."""

from __future__ import annotations

from decimal import Decimal

from billing_dagster.catalog.model import AlertRule, Threshold

#: A recurring step fires at most this many times per period and target: a step far
#: smaller than the usage must not flood the outbox.
MAX_RECURRING = 1000


def reached(rule: AlertRule, figure: Decimal, limit: Decimal | None) -> list[str]:
    """The labels of the thresholds `figure` has reached, in order. Percentages are of
    `limit`; without one (unlimited, or not a feature) they are never reached. Nothing is
    reached before there is usage."""
    if figure <= 0:
        return []
    labels = []
    for threshold in rule.thresholds:
        level = _level(threshold, limit)
        if level is None or figure < level:
            return labels
        labels.append(threshold.label)
    if rule.every is None:
        return labels
    step, last = _level(rule.every, limit), rule.thresholds[-1]
    if not step:
        return labels
    for multiple in range(1, MAX_RECURRING + 1):
        further = Threshold(last.value + multiple * rule.every.value, last.percent)
        if figure < _level(further, limit):
            break
        labels.append(further.label)
    return labels


def _level(threshold: Threshold, limit: Decimal | None) -> Decimal | None:
    if not threshold.percent:
        return threshold.value
    if limit is None:
        return None
    return limit * threshold.value / 100
