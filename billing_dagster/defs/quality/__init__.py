"""Data-quality asset checks (docs/data_quality.md): one module per concern."""

from billing_dagster.defs.quality.arrival import file_sequence, source_freshness, source_gaps
from billing_dagster.defs.quality.events import (
    events_outside_subscriptions,
    events_without_metric,
    idempotency_conflicts,
    late_events,
    quarantine,
)
from billing_dagster.defs.quality.invoices import invoice_invariants
from billing_dagster.defs.quality.schema import event_schema
from billing_dagster.defs.quality.usage import usage_spikes

#: Checks of the ingestion asset `raw_events`, per landing day.
event_checks = [
    event_schema,
    source_freshness,
    source_gaps,
    file_sequence,
    idempotency_conflicts,
    quarantine,
    events_without_metric,
    events_outside_subscriptions,
    late_events,
]

quality_checks = [*event_checks, usage_spikes, invoice_invariants]
