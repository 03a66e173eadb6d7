"""Announce failing asset checks to webhook endpoints (`data_quality.failed`): every
minute, each latest evaluation that did not pass becomes an outbox event, once per
evaluation (the outbox ignores an id it holds). Delivery follows as for every event."""

import dagster as dg

from billing_dagster.defs.quality.failing import failing_checks
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.webhooks.documents import announce_failed_checks


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def data_quality_webhooks(context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource):
    failing = failing_checks(context.instance, context.repository_def.asset_graph.asset_check_keys)
    new = announce_failed_checks(clickhouse.get_client(), clickhouse.database, failing)
    return dg.SkipReason(f"{len(failing)} checks failing; {new} new data_quality.failed events")
