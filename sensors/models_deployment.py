"""Deploy the dbt views whenever the dbt project differs from the version the warehouse
holds: on a fresh warehouse, and after every change to the models, macros or tests.

One run per version of the project (its digest is the run key); a failed one is re-executed
from the UI. Metering waits for it (sensor `late_data_backfill`).
"""

import dagster as dg

from billing_dagster.defs.metering.jobs import models_job
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.metering.dbt_project import models_deployed, project_digest


@dg.sensor(
    job=models_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def models_deployment(clickhouse: ClickHouseResource):
    if models_deployed(clickhouse.get_client(), clickhouse.database):
        return dg.SkipReason("the warehouse holds this version of the dbt project")
    return dg.RunRequest(run_key=f"models-{project_digest()}")
