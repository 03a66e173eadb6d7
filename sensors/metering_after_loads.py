"""Re-meter the event days a load changed, once per load, in one dbt run."""

import dagster as dg

from billing_dagster.defs.jobs import metering_job
from billing_dagster.defs.metering.runs import metering_range_tags


@dg.asset_sensor(
    asset_key=dg.AssetKey("raw_events"),
    job=metering_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def metering_after_loads(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    event_dates = materialization.metadata.get("event_dates") if materialization else None
    if not event_dates or not event_dates.value:
        return dg.SkipReason("the load changed no event day")
    days = sorted(event_dates.value)
    return dg.RunRequest(
        run_key=f"metering-after-load-{asset_event.storage_id}",
        tags=metering_range_tags(days[0], days[-1]),
    )
