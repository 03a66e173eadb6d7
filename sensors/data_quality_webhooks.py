"""Announce failing asset checks to webhook endpoints (`data_quality.failed`): every
minute, each latest evaluation that did not pass becomes an outbox event, once per
evaluation (the outbox ignores an id it holds). Delivery follows as for every event."""

import dagster as dg

from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.webhooks.documents import announce_failed_checks


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def data_quality_webhooks(context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource):
    failing = []
    for key in context.repository_def.asset_graph.asset_check_keys:
        record = context.instance.get_latest_asset_check_evaluation_record(key)
        if record and record.evaluation and not record.evaluation.passed:
            failing.append(
                {
                    "check": key.to_user_string(),
                    "severity": record.evaluation.severity.value,
                    "partition": record.partition,
                    "description": record.evaluation.description,
                    "run_id": record.run_id,
                }
            )
    new = announce_failed_checks(clickhouse.get_client(), clickhouse.database, failing)
    return dg.SkipReason(f"{len(failing)} checks failing; {new} new data_quality.failed events")
