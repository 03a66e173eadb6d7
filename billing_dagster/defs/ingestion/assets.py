"""Ingestion: event files in the landing zone become rows of the event store."""

from datetime import date

import dagster as dg

from billing_dagster.catalog.store import latest_catalog_version
from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.ingest import landing
from billing_dagster.ingest.loader import EventLoader
from billing_dagster.locks import EVENT_LOADS, home_lock

EVENT_TABLES = {
    "raw_events": "First accepted copy of every event; append-only.",
    "event_loads": "The load ledger: one row per loaded file, keyed by content hash.",
    "event_duplicates": "Later copies of an event key, flagged when their content conflicts.",
    "quarantined_events": "Bad lines with file, line number, raw text and reason.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, description=description, kinds={"clickhouse"})
        for name, description in EVENT_TABLES.items()
    ],
    partitions_def=landing_days,
    group_name="ingestion",
    pool="billing_event_loads",
)
def event_store(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
):
    """A partition is a landing day: materializing it loads that day's files not yet in the
    load ledger, in landing order, so re-running it loads nothing twice."""
    day = date.fromisoformat(context.partition_key)
    client = clickhouse.get_client()
    catalog_version = latest_catalog_version(client, clickhouse.database)
    if catalog_version is None:
        raise dg.Failure("no catalog has been applied; run `billing catalog apply FILE` first")
    loader = EventLoader(client, clickhouse.database, clickhouse.settings().file_path)
    totals = {"files": 0, "accepted": 0, "duplicates": 0, "conflicts": 0, "quarantined": 0}
    event_dates: set[date] = set()
    with home_lock(billing_home.path, EVENT_LOADS):
        discarded = loader.discard_unfinished_loads()
        if discarded:
            context.log.warning(f"removed rows of unfinished loads {discarded}")
        pending = [
            f
            for f in landing.landed_files(billing_home.path, day)
            if not loader.already_loaded(f.sha256)
        ]
        for number, landed in enumerate(pending, start=1):
            result = loader.load(
                landed.path, landed.sha256, landed.original_name, day, catalog_version
            )
            context.log.info(
                f"[{number}/{len(pending)}] {landed.original_name}: {result.accepted} accepted, "
                f"{result.duplicates} duplicates ({result.conflicts} conflicting), "
                f"{result.quarantined} quarantined"
            )
            totals["files"] += 1
            for key in ("accepted", "duplicates", "conflicts", "quarantined"):
                totals[key] += getattr(result, key)
            event_dates.update(result.event_dates)
    metadata = {
        **totals,
        "catalog_version": catalog_version,
        "event_dates": dg.MetadataValue.json(sorted(d.isoformat() for d in event_dates)),
    }
    for name in EVENT_TABLES:
        yield dg.MaterializeResult(
            asset_key=name, metadata=metadata if name == "raw_events" else {}
        )
