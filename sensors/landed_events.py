"""Load event files that landed and are not loaded yet, within 15 seconds: the segments
`billing serve` seals every few seconds, and files an interrupted command left behind.

One run per landing day and set of waiting files (the run key), through the same ingest job
as `billing ingest` and the landing schedule, so the load ledger, dedup and quarantine stay
the one truth. Metering follows on its own (sensor `late_data_backfill`).
"""

import hashlib

import dagster as dg

from billing_dagster.defs.ingestion.jobs import ingest_job
from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.ingest.landing_day import waiting_files


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landed_events(clickhouse: ClickHouseResource, billing_home: BillingHomeResource):
    waiting = waiting_files(billing_home.path, clickhouse.get_client(), clickhouse.database)
    if not waiting:
        return dg.SkipReason("every landed file is loaded")
    return [
        dg.RunRequest(
            partition_key=day.isoformat(),
            run_key=f"landed-{day.isoformat()}-"
            + hashlib.sha256(" ".join(file.sha256 for file in files).encode()).hexdigest()[:16],
        )
        for day, files in sorted(waiting.items())
    ]
