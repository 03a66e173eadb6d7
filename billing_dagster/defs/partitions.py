"""Time partitions. Every day is a UTC calendar day; every month a billing period."""

from __future__ import annotations

import dagster as dg

from billing_dagster.ingest.loader import FIRST_EVENT_DATE

#: Days on which event files landed (ingestion batches).
landing_days = dg.DailyPartitionsDefinition(
    start_date=FIRST_EVENT_DATE.isoformat(), end_offset=1, timezone="UTC"
)

#: Days of event timestamps (metering). Events may carry tomorrow's date when the sender's
#: clock runs ahead, so the partition of the coming day exists too.
metering_days = dg.DailyPartitionsDefinition(
    start_date=FIRST_EVENT_DATE.isoformat(), end_offset=2, timezone="UTC"
)

#: Billing periods: calendar months in UTC, billed in arrears. The month in progress exists
#: too, so a draft of it can be previewed.
billing_periods = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_EVENT_DATE.isoformat(), end_offset=1, timezone="UTC"
)
