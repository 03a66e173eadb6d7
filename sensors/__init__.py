"""Sensors: each module one trigger; they ask billing_dagster's policy and launch its jobs."""

from sensors.late_data_backfill import late_data_backfill
from sensors.models_deployment import models_deployment

all_sensors = [models_deployment, late_data_backfill]
