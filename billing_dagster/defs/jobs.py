"""Jobs: what the CLI, schedules and sensors launch."""

import dagster as dg

from billing_dagster.defs.ingestion.assets import event_store
from billing_dagster.defs.invoicing.assets import finalized_invoices, invoices
from billing_dagster.defs.metering.assets import (
    finance_views,
    metering_daily,
    metering_views,
    period_usage,
)

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(event_store),
    description="Load the event files that landed on a day.",
)

metering_job = dg.define_asset_job(
    "metering_job",
    selection=dg.AssetSelection.assets(metering_daily),
    description="Recompute daily usage for a day or a range of days (one dbt run).",
)

metering_views_job = dg.define_asset_job(
    "metering_views_job",
    selection=dg.AssetSelection.assets(metering_views),
    description="Create the staging and intermediate views of the dbt project.",
)

period_usage_job = dg.define_asset_job(
    "period_usage_job",
    selection=dg.AssetSelection.assets(period_usage),
    description="Create the per-period usage views over the daily usage table.",
)

finance_views_job = dg.define_asset_job(
    "finance_views_job",
    selection=dg.AssetSelection.assets(finance_views),
    description="Create the finance views over the invoice tables (docs/analysts.md).",
)

billing_job = dg.define_asset_job(
    "billing_job",
    selection=dg.AssetSelection.assets(invoices),
    description="Bill a period: draft invoices from its rated usage (metered beforehand).",
)

finalize_job = dg.define_asset_job(
    "finalize_job",
    selection=dg.AssetSelection.assets(invoices, finalized_invoices),
    description="Bill a period from the data as it is now, then finalize its invoices.",
)
