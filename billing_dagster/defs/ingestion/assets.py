"""Ingestion: event files in the landing zone become rows of the event store."""

from datetime import date

import dagster as dg

from billing_dagster.catalog.store import latest_catalog_version
from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.ingest.landing_day import load_landing_day
from billing_dagster.ingest.loader import EventLoader

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
    done = load_landing_day(
        loader, billing_home.path, day, catalog_version, context.log.info, context.log.warning
    )
    metadata = {
        **done.counts(),
        "catalog_version": catalog_version,
        "event_dates": dg.MetadataValue.json(sorted(d.isoformat() for d in done.event_dates)),
    }
    for name in EVENT_TABLES:
        yield dg.MaterializeResult(
            asset_key=name, metadata=metadata if name == "raw_events" else {}
        )
