"""What a check looks at: the rows of its partition, read through the warehouse resource.

Checks of `raw_events` judge the loads of their landing days (committed loads only, like
every reader); a result names what it found in its description and keeps the counts and
examples as metadata.
"""

import functools
import warnings
from collections.abc import Callable
from datetime import date

import dagster as dg

from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.resources import ClickHouseResource

RAW_EVENTS = dg.AssetKey("raw_events")


def partition_days(context: dg.AssetCheckExecutionContext) -> dict[str, date]:
    """The partition (or partition range) of the run as days `first` <= day < `end`."""
    start, end = context.partition_time_window
    return {"first": start.date(), "end": end.date()}


def partition_loads(database: str) -> str:
    """SQL: the committed loads of the landing days `{first:Date}` <= day < `{end:Date}`."""
    return (
        f"SELECT load_seq FROM `{database}`.event_loads "
        f"WHERE landing_date >= {{first:Date}} AND landing_date < {{end:Date}}"
    )


class Partition:
    """The partition a check judges, and the one warehouse client it reads it with."""

    def __init__(self, context: dg.AssetCheckExecutionContext, clickhouse: ClickHouseResource):
        self.days = partition_days(context)
        self.database = clickhouse.database
        self.client = clickhouse.get_client()

    def sql(self, text: str) -> str:
        """`text` with `{db}` the database and `{loads}` the partition's loads."""
        loads = partition_loads(self.database)
        return text.replace("{loads}", loads).replace("{db}", f"`{self.database}`")

    def rows(self, text: str, **parameters) -> list[tuple]:
        """Rows of a query whose parameters are the partition's days and `parameters`."""
        return self.client.query(self.sql(text), parameters={**self.days, **parameters}).result_rows


def partitioned_check(
    asset: dg.AssetKey, name: str, partitions: dg.PartitionsDefinition, description: str
) -> Callable[[Callable[..., dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    """`dg.asset_check` on the partitions of its asset, so a run of a landing day, metering
    window or billing period checks that partition. Dagster 1.13 flags partitioned checks as
    a preview; the checks rely only on the partition time window of their context.

    A check that cannot run fails as an ERROR result instead of failing the run: the load,
    metering or billing it follows is committed, and `billing ingest` must say so."""

    def decorate(function: Callable[..., dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
        @functools.wraps(function)  # Dagster reads the parameters of `function`
        def check(*args, **kwargs) -> dg.AssetCheckResult:
            try:
                return function(*args, **kwargs)
            except Exception as error:
                return result(
                    False,
                    f"{name} could not run: {type(error).__name__}: {error}",
                    dg.AssetCheckSeverity.ERROR,
                )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            return dg.asset_check(
                asset=asset, name=name, partitions_def=partitions, description=description
            )(check)

    return decorate


def partition_check(
    asset: dg.AssetKey, name: str, partitions: dg.PartitionsDefinition, description: str
) -> Callable[[Callable[[Partition], dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    """A `partitioned_check` whose function judges a `Partition` (its rows and client)."""

    def decorate(judge: Callable[[Partition], dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
        def check(
            context: dg.AssetCheckExecutionContext, clickhouse: ClickHouseResource
        ) -> dg.AssetCheckResult:
            return judge(Partition(context, clickhouse))

        # Named like `judge`, but with the parameters Dagster supplies (context, resource).
        check.__name__, check.__doc__ = judge.__name__, judge.__doc__
        return partitioned_check(asset, name, partitions, description)(check)

    return decorate


def event_check(
    name: str, description: str
) -> Callable[[Callable[[Partition], dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    """A `partition_check` of `raw_events` per landing day."""
    return partition_check(RAW_EVENTS, name, landing_days, description)


def result(
    passed: bool,
    description: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    **metadata,
) -> dg.AssetCheckResult:
    """A check's result; the description says what and where, in one line."""
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        description=description,
        metadata={name: _metadata_value(value) for name, value in metadata.items()},
    )


def _metadata_value(value):
    return dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
