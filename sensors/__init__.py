"""Sensors: each module one trigger; they launch jobs of `billing_dagster` and hold no logic."""

from sensors.late_data_backfill import late_data_backfill

all_sensors = [late_data_backfill]
