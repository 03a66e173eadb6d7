"""Checks that events keep arriving: each source's freshness, hours without events of a source
that normally sends every hour, and files missing from a numbered sequence.

Freshness and hourly gaps look at the trailing days of event time up to now, whichever
landing day is checked: they are about the store as it stands.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.quality.rules import (
    FRESHNESS_LOOKBACK_DAYS,
    FRESHNESS_MAX_SILENCE_HOURS,
    GAP_LOOKBACK_DAYS,
    hour_text,
    hourly_gaps,
    listing,
    missing_in_sequences,
    utc,
)
from billing_dagster.defs.quality.scope import (
    RAW_EVENTS,
    Partition,
    event_check,
    partitioned_check,
    result,
)
from billing_dagster.defs.resources import ClickHouseResource

NO_SOURCE = "(no source)"
_SOURCE = f"ifNull(source, '{NO_SOURCE}')"
#: Committed events since `{since}`; the date bound lets the engine skip older parts.
_RECENT = (
    "event_date >= toDate({since:DateTime64(3, 'UTC')}) "
    "AND timestamp >= {since:DateTime64(3, 'UTC')} "
    "AND load_seq IN (SELECT load_seq FROM {db}.event_loads)"
)


class FreshnessConfig(dg.Config):
    """How long a source that sent events in the trailing days may stay silent."""

    max_silence_hours: int = FRESHNESS_MAX_SILENCE_HOURS


@partitioned_check(
    RAW_EVENTS,
    "source_freshness",
    landing_days,
    f"Each source that sent events in the last {FRESHNESS_LOOKBACK_DAYS} days has "
    f"sent some within `max_silence_hours` (default {FRESHNESS_MAX_SILENCE_HOURS}).",
)
def source_freshness(
    context: dg.AssetCheckExecutionContext,
    config: FreshnessConfig,
    clickhouse: ClickHouseResource,
) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    since = now - timedelta(days=FRESHNESS_LOOKBACK_DAYS)
    last_events = Partition(context, clickhouse).rows(
        f"SELECT {_SOURCE} AS src, max(timestamp) FROM {{db}}.raw_events "
        f"WHERE {_RECENT} "
        "GROUP BY src ORDER BY src",
        since=since,
    )
    last_events = [(source, utc(last)) for source, last in last_events]
    limit = timedelta(hours=config.max_silence_hours)
    silent = [(source, last) for source, last in last_events if now - last > limit]
    found = [
        f'source "{source}": no events for {int((now - last) / timedelta(hours=1))} h '
        f"(last at {hour_text(last)}; limit {config.max_silence_hours} h)"
        for source, last in silent
    ]
    description = (
        listing(found)
        if silent
        else f"{len(last_events)} sources sent events within {config.max_silence_hours} h"
    )
    return result(
        not silent,
        description,
        last_event={source: last.isoformat() for source, last in last_events},
        silent_sources=[source for source, _ in silent],
    )


@event_check(
    "source_gaps",
    f"Hours without events, in the last {GAP_LOOKBACK_DAYS} days, of a source that "
    "has events in most hours.",
)
def source_gaps(partition: Partition) -> dg.AssetCheckResult:
    since = datetime.now(UTC) - timedelta(days=GAP_LOOKBACK_DAYS)
    hours = partition.rows(
        f"SELECT {_SOURCE} AS src, groupUniqArray(toStartOfHour(timestamp)) "
        f"FROM {{db}}.raw_events WHERE {_RECENT} GROUP BY src ORDER BY src",
        since=since,
    )
    gaps = [gap for source, seen in hours for gap in hourly_gaps(source, seen)]
    description = (
        f"{len(gaps)} gaps: {listing(map(str, gaps))}"
        if gaps
        else f"no hour without events among {len(hours)} sources"
    )
    return result(
        not gaps,
        description,
        gaps=[
            {"source": g.source, "from": hour_text(g.start), "to": hour_text(g.end)} for g in gaps
        ],
    )


@event_check(
    "file_sequence",
    "Files missing from a numbered sequence (events-0001.jsonl, events-0003.jsonl) "
    "that a file of the day belongs to.",
)
def file_sequence(partition: Partition) -> dg.AssetCheckResult:
    names = partition.rows(
        "SELECT file_name, load_seq IN ({loads}) FROM {db}.event_loads ORDER BY load_seq",
    )
    missing = missing_in_sequences(
        (name for name, _ in names), touched=(name for name, in_day in names if in_day)
    )
    found = [f"{pattern}: missing {', '.join(files)}" for pattern, files in missing.items()]
    description = (
        listing(found) if missing else f"no file missing from the sequences of {len(names)} files"
    )
    return result(not missing, description, missing=missing)
