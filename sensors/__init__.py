"""Sensors: each module one trigger; they launch jobs of `billing_dagster` and hold no logic."""

from sensors.metering_after_loads import metering_after_loads

all_sensors = [metering_after_loads]
