"""Metering policy: which days to meter and which periods to re-bill, from the warehouse's
ledgers. No Dagster here: the sensor and the CLI ask the same plan (defs/ runs it)."""
