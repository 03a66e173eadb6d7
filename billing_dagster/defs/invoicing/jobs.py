"""Invoicing jobs: what the billing and finalization schedules, the backfill sensor and
`billing bill` / `billing finalize` launch."""

import dagster as dg

from billing_dagster.defs.invoicing.assets import finalized_invoices, invoices

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
