"""The ingestion job: what the landing schedule and `billing ingest` launch."""

import dagster as dg

from billing_dagster.defs.ingestion.assets import event_store

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(event_store),
    description="Load the event files that landed on a day.",
)
