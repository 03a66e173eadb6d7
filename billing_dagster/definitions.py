"""Assembles the Dagster definitions; every piece lives in `billing_dagster/defs/<area>/`."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import dagster as dg

import schedules
import sensors
from billing_dagster.defs.alerts.assets import alerts_once, usage_alerts, webhook_delivery_job
from billing_dagster.defs.catalog import catalog_tables
from billing_dagster.defs.erasure.jobs import erasure_job
from billing_dagster.defs.ingestion.assets import event_store
from billing_dagster.defs.ingestion.jobs import ingest_job
from billing_dagster.defs.invoicing.assets import finalized_invoices, invoices
from billing_dagster.defs.invoicing.jobs import billing_job, finalize_job
from billing_dagster.defs.metering.assets import (
    dbt_deployment,
    finance_views,
    metering_daily,
    metering_views,
    period_usage,
)
from billing_dagster.defs.metering.dbt_resource import PinnedDbtCliResource
from billing_dagster.defs.metering.jobs import metering_job, models_job
from billing_dagster.defs.metering.project import metering_project
from billing_dagster.defs.partners.assets import partner_statement_lines, partner_statements_job
from billing_dagster.defs.quality import quality_checks
from billing_dagster.defs.resources import (
    BillingHomeResource,
    BillingPolicyResource,
    ClickHouseResource,
)
from billing_dagster.defs.sync.assets import gateway_invoices, invoice_disputes, invoice_statuses
from billing_dagster.defs.sync.jobs import payment_status_job, sync_job
from billing_dagster.defs.sync.resources import GatewayResource
from billing_dagster.settings import Settings
from billing_dagster.warehouse.connection import billing_home, keep_private

# Binding resources re-creates each sensor that targets a job, and Dagster passes the beta
# parameter `owners` itself then (we set none): a warning users can do nothing about.
warnings.filterwarnings("ignore", "Parameter `owners`", dg.BetaWarning)


def build_definitions() -> dg.Definitions:
    keep_private(billing_home())  # `dagster dev` and the daemon write into the home too
    home = str(billing_home())
    settings = Settings.from_env()
    return dg.Definitions(
        assets=[
            *catalog_tables,
            event_store,
            metering_views,
            metering_daily,
            period_usage,
            finance_views,
            dbt_deployment,
            usage_alerts,
            invoices,
            finalized_invoices,
            gateway_invoices,
            invoice_statuses,
            invoice_disputes,
            partner_statement_lines,
        ],
        asset_checks=[*quality_checks, alerts_once],
        jobs=[
            ingest_job,
            metering_job,
            models_job,
            billing_job,
            finalize_job,
            sync_job,
            payment_status_job,
            partner_statements_job,
            webhook_delivery_job,
            erasure_job,
        ],
        schedules=schedules.all_schedules,
        sensors=sensors.all_sensors,
        resources={
            "clickhouse": ClickHouseResource.from_settings(home, settings.warehouse),
            "billing_home": BillingHomeResource(home=home),
            "gateway": GatewayResource.from_settings(
                settings.gateway, settings.gateway_directory(Path(home))
            ),
            "billing_policy": BillingPolicyResource(
                finalize_grace_days=settings.finalize_grace_days
            ),
            "dbt": PinnedDbtCliResource(
                project_dir=metering_project,
                # The dbt of this environment, whether or not its bin/ is on PATH.
                dbt_executable=str(Path(sys.executable).with_name("dbt")),
            ),
        },
    )


defs = build_definitions()
