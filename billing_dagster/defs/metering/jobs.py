"""Metering jobs: what the sensors and every CLI command launch before billing."""

import dagster as dg

from billing_dagster.defs.alerts.assets import usage_alerts
from billing_dagster.defs.metering.assets import (
    dbt_deployment,
    finance_views,
    metering_daily,
    metering_views,
    period_usage,
)

metering_job = dg.define_asset_job(
    "metering_job",
    selection=dg.AssetSelection.assets(metering_daily, usage_alerts),
    description="Recompute daily usage for a day or a range of days (one dbt run), then "
    "the usage alerts.",
)

models_job = dg.define_asset_job(
    "models_job",
    selection=dg.AssetSelection.assets(metering_views, period_usage, finance_views, dbt_deployment),
    description="Deploy the dbt views of this version of the project (staging, intermediate, "
    "per-period usage and finance), then record the version deployed.",
)
