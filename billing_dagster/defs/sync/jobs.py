"""Jobs of the gateway sync: what the CLI and the status schedule launch."""

import dagster as dg

from billing_dagster.defs.sync.assets import gateway_invoices, invoice_disputes, invoice_statuses

sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.assets(gateway_invoices),
    description="Sync a finalized period's invoices and credit notes to the payment gateway.",
)

payment_status_job = dg.define_asset_job(
    "payment_status_job",
    selection=dg.AssetSelection.assets(invoice_statuses, invoice_disputes),
    description="Pull the payment status and disputes of every synced invoice from the gateway.",
)
