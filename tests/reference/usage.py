"""A pure-Python oracle for metering: CONTRACT.md §1 (events) and §3 (usage quantities).

It is written from the contract alone, independently of the product (which computes the same
in ClickHouse SQL), so that randomized tests can compare the two. It favours obviously
correct code over speed and uses `Decimal` only, never floats. Nothing here is imported by
the product.

Entry points:

* `reference_ingest(loads, catalog)`: per-load `{"accepted", "duplicates", "quarantined"}`
  counts and the accepted events, in ingestion order.
* `reference_usage(loads, catalog, period)`: the rows of `billing usage --period P`.
* `usage_of_events(events, catalog, period)`: the same rows from already-ingested events.

`loads` is a list of loads in ingestion order; each load is a list of files in the order
given; each file is the JSONL text of that file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, Context, Decimal, Inexact
from typing import Any
from zoneinfo import ZoneInfo

from billing_dagster.catalog.model import Catalog, Customer, Metric, Subscription

# `[0-9]`, not `\d` (which matches any Unicode digit); `fullmatch`, so no trailing newline.
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<zulu>[Zz])|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))"
)
_NUMERIC_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_PERIOD = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})")
_MAX_EVENT_ID_LENGTH = 256
#: The product's documented limits (README, "Events"): a line, one property's JSON text, and
#: the numbers a line may hold.
MAX_LINE_BYTES = 1 << 20
MAX_PROPERTY_BYTES = 64 << 10
_DOUBLE_MAX = Decimal("1.7976931348623157e308")
#: The product's documented bounds on event time (README, "Events"): nothing before the first
#: metering day, nothing more than a day ahead of the clock.
FIRST_EVENT_DAY = date(2020, 1, 1)
MAX_CLOCK_SKEW = timedelta(days=1)

#: Arithmetic that never rounds: any inexact result raises instead.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])

Summary = dict[str, int]


@dataclass(frozen=True)
class Event:
    """One accepted event, with its properties already converted to text."""

    customer_id: str
    event_id: str
    event_name: str
    timestamp: datetime  # UTC, truncated to milliseconds
    properties: dict[str, str]
    replaces: str | None = None
    void: bool = False


@dataclass
class IngestResult:
    """What ingesting the loads produced."""

    #: one `{"accepted": N, "duplicates": N, "quarantined": N}` per load, in load order
    summaries: list[Summary] = field(default_factory=list)
    #: the accepted events (first copies), in ingestion order
    events: list[Event] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Text of values


def decimal_text(value: Decimal) -> str:
    """`value` written exactly in plain notation: no exponent, no trailing fractional zeros.

    Done on the digits, not with `normalize()`, which rounds to the context's precision.
    Zero (either sign) is "0".
    """
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    if exponent >= 0:
        whole, fraction = digits + "0" * exponent, ""
    else:
        digits = digits.rjust(-exponent + 1, "0")
        whole, fraction = digits[:exponent], digits[exponent:]
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    text = f"{whole}.{fraction}" if fraction else whole
    if text == "0":
        return "0"
    return f"-{text}" if sign else text


def property_text(value: str | bool | Decimal) -> str:
    """How a property value compares as text: strings as-is, bools and numbers as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value


def is_numeric_text(text: str) -> bool:
    """Whether a property's text is a plain decimal number (`-12`, `0.5`), usable as a value."""
    return _NUMERIC_TEXT.fullmatch(text) is not None


# ---------------------------------------------------------------------------------------------
# Parsing one line


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp as UTC truncated to milliseconds; None when it is not one."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    millis = int(((match["fraction"] or "") + "000")[:3])  # truncate, never round
    try:
        local = datetime(
            int(match["year"]), int(match["month"]), int(match["day"]),
            int(match["hour"]), int(match["minute"]), int(match["second"]),
            millis * 1000, tzinfo=UTC,
        )  # fmt: skip
    except ValueError:  # not a real calendar date or time of day
        return None
    if match["zulu"]:
        return local
    hours, minutes = int(match["offset_hours"]), int(match["offset_minutes"])
    if hours > 23 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    try:
        return local - offset if match["sign"] == "+" else local + offset
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1
        return None


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, although Python's reader accepts them by default."""
    raise ValueError(f"not JSON: {name}")


def _number(text: str) -> Decimal:
    """A number exactly as written; one beyond a double's range cannot be read (README)."""
    value = Decimal(text)
    if abs(value) > _DOUBLE_MAX:
        raise ValueError(f"number out of range: {text}")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct; a repeated key is refused (README)."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears more than once")
    return dict(pairs)


def parse_json(line: str) -> Any:
    """The JSON value of a line, numbers as exact `Decimal`s; ValueError when not JSON or
    outside what the product reads (repeated keys, numbers beyond a double)."""
    return json.loads(
        line,
        parse_float=_number,
        parse_int=_number,
        parse_constant=_reject_constant,
        object_pairs_hook=_object,
    )


def _json_text(value: str | bool | Decimal) -> bytes:
    """A property value as JSON writes it (what the size limit counts)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).encode()
    return property_text(value).encode()


def _is_nonempty_string(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _is_property_value(value: object) -> bool:
    """Strings, numbers and bools; not null, arrays or objects."""
    return isinstance(value, str | bool | Decimal)


def parse_event(line: str, customers: set[str], now: datetime | None = None) -> Event | None:
    """The event on a line, or None when the line belongs in quarantine."""
    if len(line.encode()) > MAX_LINE_BYTES:
        return None
    try:
        data = parse_json(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None

    event_id = data.get("event_id")
    if not _is_nonempty_string(event_id) or len(event_id) > _MAX_EVENT_ID_LENGTH:
        return None
    customer_id = data.get("customer_id")
    if not _is_nonempty_string(customer_id) or customer_id not in customers:
        return None
    event_name = data.get("event_name")
    if not _is_nonempty_string(event_name):
        return None
    timestamp_text = data.get("timestamp")
    if not isinstance(timestamp_text, str):
        return None
    timestamp = parse_timestamp(timestamp_text)
    if timestamp is None or timestamp.date() < FIRST_EVENT_DAY:
        return None
    if now is not None and timestamp > now + MAX_CLOCK_SKEW:
        return None

    properties = data.get("properties")
    if properties is None:  # absent or null: no properties
        properties = {}
    if not isinstance(properties, dict):
        return None
    if not all(_is_property_value(v) for v in properties.values()):
        return None
    if any(len(_json_text(v)) > MAX_PROPERTY_BYTES for v in properties.values()):
        return None

    source = data.get("source")
    if source is not None and not isinstance(source, str):
        return None
    replaces = data.get("replaces")
    if replaces is not None and (not isinstance(replaces, str) or replaces == event_id):
        return None
    void = data.get("void")
    if void is not None and not isinstance(void, bool):
        return None

    return Event(
        customer_id=customer_id,
        event_id=event_id,
        event_name=event_name,
        timestamp=timestamp,
        properties={name: property_text(value) for name, value in properties.items()},
        replaces=replaces,
        void=void is True,
    )


# ---------------------------------------------------------------------------------------------
# Ingestion: quarantine and deduplication


def candidate_lines(content: str) -> list[str]:
    """The lines of a JSONL file that are candidate events: every line that is not blank.

    Lines end at "\\n" only (a JSON string may hold U+2028, which `splitlines` would split on).
    """
    return [line for line in content.split("\n") if line.strip() != ""]


def reference_ingest(
    loads: list[list[str]], catalog: Catalog, now: datetime | None = None
) -> IngestResult:
    """Ingest `loads` in order (at instant `now`, if given, which refuses events more than a
    day ahead of it): each candidate line is accepted, a duplicate or quarantined.

    The first accepted copy of a (customer_id, event_id) key wins; later copies are
    duplicates, whatever their content.
    """
    customers = {customer.id for customer in catalog.customers}
    seen: set[tuple[str, str]] = set()
    #: A file is its bytes (README, "Events"): the same content given again is the same
    #: file, and loading it again changes nothing.
    seen_files: set[str] = set()
    result = IngestResult()
    for files in loads:
        summary = {"accepted": 0, "duplicates": 0, "quarantined": 0}
        for content in files:
            if content in seen_files:
                continue
            seen_files.add(content)
            for line in candidate_lines(content):
                event = parse_event(line, customers, now)
                if event is None or (
                    # A correction names an event accepted before it, or is quarantined.
                    event.replaces is not None and (event.customer_id, event.replaces) not in seen
                ):
                    summary["quarantined"] += 1
                elif (event.customer_id, event.event_id) in seen:
                    summary["duplicates"] += 1
                else:
                    seen.add((event.customer_id, event.event_id))
                    result.events.append(event)
                    summary["accepted"] += 1
        result.summaries.append(summary)
    return result


# ---------------------------------------------------------------------------------------------
# Corrections


def effective_events(events: list[Event]) -> list[Event]:
    """The accepted events that count once corrections are applied.

    `events` are in ingestion order, and every correction names an event accepted before it
    (`reference_ingest` quarantines the others). A correction stands for the original event
    at the root of what it names; of an original and all its corrections only the one
    ingested last counts, and not when it is a void correction. A void flag without
    `replaces` has no effect.
    """
    original: dict[tuple[str, str], str] = {}
    latest: dict[tuple[str, str], str] = {}
    for e in events:
        if e.replaces is not None:
            root = original.get((e.customer_id, e.replaces), e.replaces)
            original[(e.customer_id, e.event_id)] = root
            latest[(e.customer_id, root)] = e.event_id
    return [
        e
        for e in events
        if (e.customer_id, e.event_id) not in latest
        and (
            e.replaces is None
            or (
                latest[(e.customer_id, original[(e.customer_id, e.event_id)])] == e.event_id
                and not e.void
            )
        )
    ]


# ---------------------------------------------------------------------------------------------
# Metrics


def matches(metric: Metric, event: Event) -> bool:
    """Whether `event` is one of `metric`'s events: its name and every filter match."""
    if event.event_name != metric.event_name:
        return False
    return all(
        name in event.properties and event.properties[name] in accepted
        for name, accepted in metric.filters.items()
    )


def measured_value(metric: Metric, event: Event) -> str | None:
    """The text `metric` aggregates for `event` ("" for count); None when it is left out."""
    if metric.aggregation == "count":
        return ""
    assert metric.property is not None, f"metric {metric.code} has no property"
    value = event.properties.get(metric.property)
    if value is None:
        return None
    if metric.aggregation == "count_unique":
        return value
    return value if is_numeric_text(value) else None


def aggregate(metric: Metric, measured: list[tuple[Event, str]]) -> Decimal:
    """The quantity of one metric (and group) over its (event, value text) pairs."""
    if not measured:
        return Decimal(0)
    if metric.aggregation == "count":
        return Decimal(len(measured))
    if metric.aggregation == "count_unique":
        return Decimal(len({value for _, value in measured}))
    numbers = [Decimal(value) for _, value in measured]
    if metric.aggregation == "sum":
        total = Decimal(0)
        for number in numbers:
            total = _EXACT.add(total, number)
        return total
    if metric.aggregation == "max":
        return max(numbers)
    if metric.aggregation == "latest":
        _, value = max(measured, key=lambda pair: (pair[0].timestamp, pair[0].event_id))
        return Decimal(value)
    raise ValueError(f"unknown aggregation {metric.aggregation!r}")


#: Milliseconds in each unit a time-weighted sum counts in.
_UNIT_MILLISECONDS = {"hour": 3_600_000, "day": 86_400_000}


def held_over(
    metric: Metric, measured: list[tuple[Event, str]], lower: datetime, upper: datetime
) -> Decimal:
    """A time-weighted sum over [lower, upper) (docs/invoicing.md): each event's value is held
    from its instant until the next event's (ties ordered by event_id), 0 before the first;
    value x milliseconds summed exactly, divided by the unit once and rounded half away from
    zero to 12 places. `measured` may hold events before `lower` (what they left held)."""
    assert metric.unit is not None, f"metric {metric.code} has no unit"
    # In UTC: Python subtracts two times of one zone by their wall clocks, ignoring DST.
    lower, upper = lower.astimezone(UTC), upper.astimezone(UTC)
    ordered = sorted(measured, key=lambda pair: (pair[0].timestamp, pair[0].event_id))
    total = Decimal(0)
    for i, (event, value) in enumerate(ordered):
        following = ordered[i + 1][0].timestamp if i + 1 < len(ordered) else upper
        start, end = max(event.timestamp, lower), min(following, upper)
        if end > start:
            milliseconds = (end - start) // timedelta(milliseconds=1)
            total = _EXACT.add(total, _EXACT.multiply(Decimal(value), Decimal(milliseconds)))
    return _divided(total, _UNIT_MILLISECONDS[metric.unit])


def _divided(value: Decimal, divisor: int) -> Decimal:
    """`value` / `divisor` rounded to 12 places half away from zero, in whole numbers of
    10⁻¹² (`value` has at most 12 decimals), so nothing else rounds."""
    units = _EXACT.scaleb(value, 12)
    assert units == units.to_integral_value(), f"more than 12 decimals: {value}"
    quotient, remainder = divmod(abs(int(units)), divisor)
    if 2 * remainder >= divisor:
        quotient += 1
    return _EXACT.scaleb(Decimal(quotient if units >= 0 else -quotient), -12)


#: Milliseconds in each unit a percentile's bucket is written in.
_BUCKET_MILLISECONDS = {"m": 60_000, "h": 3_600_000}


def percentile_over(
    metric: Metric, measured: list[tuple[Event, str]], lower: datetime, upper: datetime
) -> Decimal:
    """A percentile over [lower, upper) (docs/invoicing.md): buckets of `metric.bucket`
    from the start of each local day of the window's zone (that of `lower`), none spanning
    two days (the last of a 23- or 25-hour day is shorter), each the sum of its events'
    values; all n buckets of the window count, an empty one as 0; the nearest rank: the
    ceil(p / 100 × n)-th smallest. `measured` are the events inside the window."""
    assert metric.bucket is not None and metric.percentile is not None, metric.code
    size = timedelta(milliseconds=int(metric.bucket[:-1]) * _BUCKET_MILLISECONDS[metric.bucket[-1]])
    zone = lower.tzinfo
    sums: dict[tuple[date, int], Decimal] = {}
    for event, value in measured:
        day = event.timestamp.astimezone(zone).date()
        index = (day, (event.timestamp - local_midnight(day, zone)) // size)
        sums[index] = _EXACT.add(sums.get(index, Decimal(0)), Decimal(value))
    days = [lower.date() + timedelta(days=n) for n in range((upper.date() - lower.date()).days)]
    count = sum(
        -(-(local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)) // size)
        for day in days
    )
    ordered = sorted([*sums.values(), *[Decimal(0)] * (count - len(sums))])
    rank = _EXACT.divide(_EXACT.multiply(metric.percentile, Decimal(count)), Decimal(100))
    return ordered[int(rank.to_integral_value(rounding=ROUND_CEILING)) - 1]


def quantities(
    metric: Metric, events: list[Event], window: tuple[datetime, datetime] | None = None
) -> dict[str | None, Decimal]:
    """Quantity per group (None without `group_by`) for every group with a counted event.

    A time-weighted sum needs the `window` it integrates over, and `events` up to its end; a
    percentile, the `window` whose buckets it counts."""
    by_group: dict[str | None, list[tuple[Event, str]]] = {}
    for event in events:
        if not matches(metric, event):
            continue
        group = None
        if metric.group_by is not None:
            group = event.properties.get(metric.group_by)
            if group is None:
                continue
        value = measured_value(metric, event)
        if value is None:
            continue
        by_group.setdefault(group, []).append((event, value))
    if metric.aggregation in ("time_weighted_sum", "percentile"):
        assert window is not None, f"metric {metric.code} needs a window"
        over = held_over if metric.aggregation == "time_weighted_sum" else percentile_over
        return {group: over(metric, measured, *window) for group, measured in by_group.items()}
    return {group: aggregate(metric, measured) for group, measured in by_group.items()}


# ---------------------------------------------------------------------------------------------
# Periods and subscriptions


def period_bounds(period: str) -> tuple[date, date]:
    """`YYYY-MM` as [its first day, the next month's first day)."""
    match = _PERIOD.fullmatch(period)
    if match is None or not 1 <= int(match["month"]) <= 12:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    year, month = int(match["year"]), int(match["month"])
    first = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, following


def local_midnight(day: date, zone: Any) -> datetime:
    """The first instant of a local day, in UTC (zoneinfo's fold 0: where midnight falls in
    a DST gap, the instant the clocks jump)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def active_window(
    subscription: Subscription, period: str, timezone: str = "UTC"
) -> tuple[datetime, datetime] | None:
    """The period ∩ [start, end) on the calendar of `timezone` (the customer's), as instants
    [lower, upper) in that zone; None when it is empty."""
    first, following = period_bounds(period)
    lower = max(first, subscription.start)
    upper = following if subscription.end is None else min(following, subscription.end)
    if lower >= upper:
        return None
    zone = ZoneInfo(timezone)
    return tuple(local_midnight(day, zone).astimezone(zone) for day in (lower, upper))


def window_quantities(
    metric: Metric, events: list[Event], window: tuple[datetime, datetime]
) -> dict[str | None, Decimal]:
    """Quantity per group of one customer's effective `events` over `window` (the period ∩
    [start, end)): the events inside it; for a time-weighted sum also those before it, whose
    values are still held (docs/invoicing.md)."""
    lower, upper = window
    held = metric.aggregation == "time_weighted_sum"
    counted = [e for e in events if e.timestamp < upper and (held or lower <= e.timestamp)]
    return quantities(metric, counted, window)


# ---------------------------------------------------------------------------------------------
# Usage rows


def _overlaps_another(subscription: Subscription, customer: Customer) -> bool:
    """Whether the customer holds another subscription on some day of this one's."""
    return any(
        other is not subscription
        and subscription.start < (other.end or date.max)
        and other.start < (subscription.end or date.max)
        for other in customer.subscriptions
    )


def _own_metrics(subscription: Subscription, catalog: Catalog) -> set[str]:
    """The metrics the subscription's plan version charges or its metered features count
    (a feature of its overrides replacing the plan's feature of that name)."""
    version = catalog.plan_version(subscription.plan, subscription.version)
    features = {e.feature: e for e in version.entitlements}
    features |= {e.feature: e for e in subscription.overrides.entitlements}
    counted = {
        e.metric or e.feature for e in features.values() if e.enabled is None and e.config is None
    }
    return counted | {charge.metric for charge in version.charges}


def usage_of_events(events: list[Event], catalog: Catalog, period: str) -> list[dict]:
    """The usage rows of `period` from accepted events (see `reference_usage`)."""
    counting = effective_events(events)
    keyed_rows: list[tuple[tuple[str, str, str, date], dict]] = []
    for customer in catalog.customers:
        for subscription in customer.subscriptions:
            window = active_window(subscription, period, customer.timezone)
            if window is None:
                continue
            customer_events = [e for e in counting if e.customer_id == customer.id]
            shown = catalog.metrics
            if _overlaps_another(subscription, customer):  # several products at once
                own = _own_metrics(subscription, catalog)
                shown = tuple(m for m in catalog.metrics if m.code in own)
            for metric in shown:
                for group, quantity in window_quantities(metric, customer_events, window).items():
                    row = {
                        "customer_id": customer.id,
                        "metric": metric.code,
                        "group": group,
                        "period": period,
                        "quantity": decimal_text(quantity),
                    }
                    key = (customer.id, metric.code, group or "", subscription.start)
                    keyed_rows.append((key, row))
    keyed_rows.sort(key=lambda keyed: keyed[0])
    return [row for _, row in keyed_rows]


def reference_usage(loads: list[list[str]], catalog: Catalog, period: str) -> list[dict]:
    """What `billing usage --period P --format json` must print after ingesting `loads`.

    One row per (subscription active in the period, metric, group) with at least one counted
    event, measured over the period ∩ the subscription's [start, end); for a time-weighted
    sum, with a counted event before the window's end; a subscription that overlaps another of
    its customer's (several products) has rows only of the metrics its plan charges or its
    features count. Rows are
    `{"customer_id", "metric", "group", "period", "quantity"}`, quantity a decimal string,
    sorted by customer_id, metric, group (None as ""), subscription start.
    """
    return usage_of_events(reference_ingest(loads, catalog).events, catalog, period)
