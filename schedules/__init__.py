"""Schedules: each module one cadence; they launch jobs of `billing_dagster` and hold no logic."""

from schedules.finalization import finalization_schedule
from schedules.landing_ingest import landing_ingest_schedule
from schedules.monthly_billing import monthly_billing_schedule
from schedules.payment_status import payment_status_schedule

all_schedules = [
    landing_ingest_schedule,
    monthly_billing_schedule,
    finalization_schedule,
    payment_status_schedule,
]
