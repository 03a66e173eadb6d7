"""Sensors: each module one trigger; they ask billing_dagster's policy and launch its jobs."""

from sensors.data_quality_webhooks import data_quality_webhooks
from sensors.landed_events import landed_events
from sensors.late_data_backfill import late_data_backfill
from sensors.models_deployment import models_deployment
from sensors.webhook_deliveries import webhook_deliveries

all_sensors = [
    models_deployment,
    landed_events,
    late_data_backfill,
    webhook_deliveries,
    data_quality_webhooks,
]
