"""Thresholds of the data-quality checks and the pure rules behind their messages.

Every threshold is here, as a constant, so docs/data_quality.md and the checks agree; the
rules take plain values (no warehouse), so they are unit-tested on their own.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg

from billing_dagster.invoicing.assemble import money_text
from billing_dagster.metering.dbt_project import project_vars

#: Rows of a landing day's loads that the schema check validates (a bounded sample).
SCHEMA_SAMPLE_ROWS = 100_000
#: Longest event id the contract allows (CONTRACT.md §1).
MAX_EVENT_ID_LENGTH = 256
#: Sources that sent events within this many days are expected to keep sending.
FRESHNESS_LOOKBACK_DAYS = 7
#: Default hours a source may stay silent before the freshness check warns.
FRESHNESS_MAX_SILENCE_HOURS = 24
#: Days of event time the gap check looks back over.
GAP_LOOKBACK_DAYS = 7
#: A source "normally sends" when it has events in at least this share of the hours between
#: its first and last event of the lookback (and that span is long enough to judge).
GAP_MIN_HOURLY_COVERAGE = 0.8
GAP_MIN_SPAN_HOURS = 24
#: Quarantined share of a landing day's lines above which the check is an error, not a
#: warning (any quarantined line warns).
QUARANTINE_ERROR_SHARE = 0.01
#: Reasons, conflicts, days, invoices... a message names at most this many of.
MESSAGE_EXAMPLES = 5
#: A day's events of a customer and metric are a spike above this multiple of the median
#: of the 7 days before (days without usage count as 0) and at least `SPIKE_MIN_EVENTS`:
#: the rule of the dbt view `fct_usage_anomalies`, whose vars these are.
SPIKE_FACTOR = project_vars()["spike_factor"]
SPIKE_BASELINE_DAYS = project_vars()["spike_baseline_days"]
SPIKE_MIN_EVENTS = project_vars()["spike_min_events"]

WARN = dg.AssetCheckSeverity.WARN
ERROR = dg.AssetCheckSeverity.ERROR


def listing(items: Iterable[str], total: int | None = None) -> str:
    """The first `MESSAGE_EXAMPLES` items, with how many more there are."""
    items = list(items)
    total = len(items) if total is None else total
    shown = "; ".join(items[:MESSAGE_EXAMPLES])
    more = total - min(len(items), MESSAGE_EXAMPLES)
    return f"{shown}; and {more} more" if more > 0 else shown


def quarantine_severity(quarantined: int, lines: int) -> dg.AssetCheckSeverity:
    """Any quarantined line is worth a look; above the share, the sender is broken."""
    return ERROR if lines and quarantined / lines > QUARANTINE_ERROR_SHARE else WARN


# --- files of a numbered sequence -------------------------------------------------------

_NUMBERED = re.compile(r"^(?P<stem>.*?)(?P<number>[0-9]+)(?P<suffix>(\.[A-Za-z]+)+)$")


def missing_in_sequences(
    names: Iterable[str], touched: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Names missing from each numbered sequence of file names (`events-0001.jsonl`,
    `events-0003.jsonl` -> `events-0002.jsonl`), keyed by the sequence's pattern
    (`events-NNNN.jsonl`). A sequence is the names that differ only in the number; with
    `touched`, only the sequences of those names are reported."""
    sequences: dict[tuple[str, str], dict[int, int]] = {}
    for name in names:
        if match := _numbered(name):
            numbers = sequences.setdefault((match["stem"], match["suffix"]), {})
            numbers[int(match["number"])] = len(match["number"])
    if touched is not None:
        keys = {(m["stem"], m["suffix"]) for m in map(_numbered, touched) if m}
        sequences = {key: numbers for key, numbers in sequences.items() if key in keys}
    missing: dict[str, list[str]] = {}
    for (stem, suffix), numbers in sorted(sequences.items()):
        width = min(numbers.values())
        holes = sorted(set(range(min(numbers), max(numbers) + 1)) - set(numbers))
        if holes:
            missing[f"{stem}{'N' * width}{suffix}"] = [
                f"{stem}{number:0{width}d}{suffix}" for number in holes
            ]
    return missing


def _numbered(name: str) -> re.Match | None:
    return _NUMBERED.match(name.rsplit("/", 1)[-1])


# --- hours without events ---------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Hours [start, end) without events of a source that normally sends every hour."""

    source: str
    start: datetime
    end: datetime

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / timedelta(hours=1))

    def __str__(self) -> str:
        return (
            f'source "{self.source}": no events from {hour_text(self.start)} '
            f"to {hour_text(self.end)} ({self.hours} h)"
        )


def utc(moment: datetime) -> datetime:
    """A warehouse timestamp (naive, in UTC) as an aware one."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_text(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%MZ")


def hourly_gaps(source: str, hours: Iterable[datetime]) -> list[Gap]:
    """The runs of empty hours between a source's first and last hour with events, when the
    source normally sends (coverage and span thresholds above); none otherwise."""
    seen = sorted({utc(hour) for hour in hours})
    if not seen:
        return []
    span = int((seen[-1] - seen[0]) / timedelta(hours=1)) + 1
    if span < GAP_MIN_SPAN_HOURS or len(seen) / span < GAP_MIN_HOURLY_COVERAGE:
        return []
    return [
        Gap(source, before + timedelta(hours=1), after)
        for before, after in itertools.pairwise(seen)
        if after - before > timedelta(hours=1)
    ]


# --- invoice arithmetic -----------------------------------------------------------------

#: Line kinds that make up each figure of an invoice (CONTRACT.md §3), with their sign.
FIGURE_LINES = {
    "charges": ({"fixed_fee", "usage"}, 1),
    "subtotal": ({"fixed_fee", "usage", "minimum_commitment"}, 1),
    "discount": ({"discount"}, -1),
    "tax": ({"tax"}, 1),
    "credits_applied": ({"credit"}, -1),
}
#: Lines that add to the total directly, after credits (corrections of earlier periods).
ADJUSTMENT_KIND = "adjustment"
#: The line of a period's invoice that deducts its interim invoices before tax (threshold
#: invoicing).
INTERIM_KIND = "interim_invoiced"


def invoice_problems(
    invoice_id: str,
    customer: str,
    currency: str,
    figures: Mapping[str, Decimal],
    lines: Iterable[tuple],
) -> list[str]:
    """What breaks the arithmetic of one invoice: its figures against its lines
    (`(kind, amount)` pairs), the total against its figures and against all its lines, and
    a negative total. A line of an unknown kind is a problem only when it breaks the sum.
    Amounts are written as invoices write them, in the currency's minor unit."""
    lines = list(lines)
    where = f"invoice {invoice_id} (customer {customer})"

    def money(amount: Decimal) -> str:
        return money_text(amount, currency)

    text = {name: money(value) for name, value in figures.items()}

    def lines_sum(kinds: set[str] | None = None) -> Decimal:
        return sum((amount for kind, amount in lines if kinds is None or kind in kinds), Decimal(0))

    problems = []
    for figure, (kinds, sign) in FIGURE_LINES.items():
        summed = sign * lines_sum(kinds)
        if summed != figures[figure]:
            problems.append(
                f"{where}: {figure} is {text[figure]} but its {'/'.join(sorted(kinds))} "
                f"lines sum to {money(summed)}"
            )
    expected = (
        figures["subtotal"]
        - figures["discount"]
        + figures["tax"]
        - figures["credits_applied"]
        + lines_sum({ADJUSTMENT_KIND})
        + lines_sum({INTERIM_KIND})
    )
    total = figures["total"]
    if total != expected:
        interims = " - interim_invoiced" if lines_sum({INTERIM_KIND}) else ""
        problems.append(
            f"{where}: total is {text['total']} but subtotal - discount{interims} + tax - "
            f"credits_applied + adjustments is {money(expected)}"
        )
    if total != lines_sum():
        problems.append(
            f"{where}: total is {text['total']} but its lines sum to {money(lines_sum())}"
        )
    if total < 0:
        problems.append(f"{where}: total is negative ({text['total']})")
    return problems
