"""Checks of what a landing day's loads did: duplicates and conflicts, quarantine, events no
metric or subscription bills, and late events (days metered before the load)."""

import dagster as dg

from billing_dagster.catalog.store import IN_FORCE
from billing_dagster.defs.quality.rules import (
    MESSAGE_EXAMPLES,
    QUARANTINE_ERROR_SHARE,
    listing,
    quarantine_severity,
)
from billing_dagster.defs.quality.scope import (
    Partition,
    event_check,
    result,
)


@event_check(
    "idempotency_conflicts",
    "Later copies of an event key whose content differs from the first copy.",
)
def idempotency_conflicts(partition: Partition) -> dg.AssetCheckResult:
    (duplicates, conflicts), *_ = partition.rows(
        "SELECT count(), countIf(is_conflict) FROM {db}.event_duplicates "
        "WHERE load_seq IN ({loads})",
    )
    examples = partition.rows(
        "SELECT d.customer_id, d.event_id, l.file_name, d.line_no, f.file_name, d.first_line_no "
        "FROM {db}.event_duplicates AS d "
        "JOIN {db}.event_loads AS l ON d.load_seq = l.load_seq "
        "LEFT JOIN {db}.event_loads AS f ON d.first_load_seq = f.load_seq "
        f"WHERE d.is_conflict AND d.load_seq IN ({{loads}}) "
        f"ORDER BY d.load_seq, d.line_no LIMIT {MESSAGE_EXAMPLES}",
    )
    found = [
        f'customer "{customer}" event "{event}" at {file}:{line} differs from its first copy '
        f"at {first_file}:{first_line}"
        for customer, event, file, line, first_file, first_line in examples
    ]
    description = (
        f"{conflicts} idempotency conflicts among {duplicates} duplicates: "
        + listing(found, conflicts)
        if conflicts
        else f"{duplicates} duplicates, no idempotency conflict"
    )
    return result(
        not conflicts,
        description,
        duplicates=int(duplicates),
        conflicts=int(conflicts),
        examples=[
            {"customer_id": c, "event_id": e, "file": f, "line": n} for c, e, f, n, *_ in examples
        ],
    )


@event_check(
    "quarantine",
    f"Quarantined lines of the day's loads; an error above "
    f"{QUARANTINE_ERROR_SHARE:.0%} of lines, a warning above 0.",
)
def quarantine(partition: Partition) -> dg.AssetCheckResult:
    (lines, quarantined), *_ = partition.rows(
        "SELECT sum(lines), sum(quarantined) FROM {db}.event_loads WHERE load_seq IN ({loads})",
    )
    reasons = partition.rows(
        "SELECT reason, count() AS n, argMin((file_name, line_no), (load_seq, line_no)) "
        "FROM {db}.quarantined_events WHERE load_seq IN ({loads}) "
        f"GROUP BY reason ORDER BY n DESC, reason LIMIT {MESSAGE_EXAMPLES}",
    )
    share = quarantined / lines if lines else 0.0
    top = [f"{n} × {reason} (e.g. {file}:{line})" for reason, n, (file, line) in reasons]
    description = (
        f"{quarantined} of {lines} lines quarantined ({share:.2%}): {listing(top)}"
        if quarantined
        else f"none of {lines} lines quarantined"
    )
    return result(
        not quarantined,
        description,
        quarantine_severity(quarantined, lines),
        lines=int(lines),
        quarantined=int(quarantined),
        share=share,
        reasons=[
            {"reason": reason, "count": n, "example": f"{file}:{line}"}
            for reason, n, (file, line) in reasons
        ],
    )


@event_check(
    "unknown_metrics",
    "Events whose event_name no metric of the catalog in force counts.",
)
def events_without_metric(partition: Partition) -> dg.AssetCheckResult:
    counts = partition.rows(
        "SELECT event_name, count() AS n FROM {db}.raw_events WHERE load_seq IN ({loads}) "
        "AND event_name NOT IN (SELECT event_name FROM {db}.catalog_metrics WHERE "
        f"{IN_FORCE}) GROUP BY event_name ORDER BY n DESC, event_name",
    )
    return _counted(counts, "event_name", "matching no metric of the catalog in force")


@event_check(
    "outside_subscriptions",
    "Events on days when their customer has no subscription (catalog in force).",
)
def events_outside_subscriptions(partition: Partition) -> dg.AssetCheckResult:
    # Per customer and day first: the join to subscriptions then sees few rows.
    counts = partition.rows(
        "SELECT customer_id, sum(events) AS n FROM ("
        " SELECT e.customer_id AS customer_id, e.event_date, any(e.events) AS events,"
        "  countIf(s.subscription_id != '' AND s.start_date <= e.event_date"
        "          AND (s.end_date IS NULL OR e.event_date < s.end_date)) AS windows"
        " FROM (SELECT customer_id, event_date, count() AS events FROM {db}.raw_events"
        "       WHERE load_seq IN ({loads}) GROUP BY customer_id, event_date) AS e"
        " LEFT JOIN (SELECT subscription_id, customer_id, start_date, end_date"
        f"            FROM {{db}}.catalog_subscriptions WHERE {IN_FORCE}) AS s"
        " ON e.customer_id = s.customer_id GROUP BY e.customer_id, e.event_date"
        ") WHERE windows = 0 GROUP BY customer_id ORDER BY n DESC, customer_id",
    )
    return _counted(counts, "customer_id", "outside any subscription of their customer")


def _counted(counts: list[tuple], key: str, what: str) -> dg.AssetCheckResult:
    total = sum(n for _, n in counts)
    description = (
        f"{total} events {what}: "
        + listing([f'{key} "{value}" ({n})' for value, n in counts], len(counts))
        if counts
        else f"no events {what}"
    )
    return result(not counts, description, events=total, counts={v: n for v, n in counts})


@event_check(
    "late_events",
    "Events of days that had been metered before their load; those days need "
    "metering again (the metering sensor does it).",
)
def late_events(partition: Partition) -> dg.AssetCheckResult:
    # A metering run that covered no load at all (max_load_seq 0) only created the table.
    late = partition.rows(
        "SELECT e.event_date AS day, count() FROM {db}.raw_events AS e "
        "WHERE e.load_seq IN ({loads}) AND (e.event_date, e.load_seq) IN ("
        " SELECT l.event_date, l.load_seq FROM"
        "  (SELECT DISTINCT event_date, load_seq FROM {db}.raw_events"
        "   WHERE load_seq IN ({loads})) AS l"
        "  CROSS JOIN {db}.metering_runs AS r"
        "  WHERE r.max_load_seq >= 1 AND r.max_load_seq < l.load_seq"
        "  AND l.event_date BETWEEN r.min_date AND r.max_date) "
        "GROUP BY day ORDER BY day",
    )
    days = [f"{day.isoformat()} ({n})" for day, n in late]
    description = (
        f"{sum(n for _, n in late)} late events on {len(late)} days metered before their load: "
        + listing(days)
        if late
        else "no events for days metered before their load"
    )
    return result(
        not late,
        description,
        days=[day.isoformat() for day, _ in late],
        events=sum(n for _, n in late),
    )
