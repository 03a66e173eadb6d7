"""The schema and types of stored events, validated with Great Expectations.

The loader quarantines every line that breaks the contract, so this check guards the store
itself: a row written by another tool, or by a loader bug, that no metering should trust.
It validates a bounded sample of the landing day's rows in an ephemeral context (no project
directory, offline). Great Expectations is imported here, inside the check: its import
costs seconds that definitions loading should not pay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from billing_dagster.defs.quality.rules import (
    ERROR,
    MAX_EVENT_ID_LENGTH,
    SCHEMA_SAMPLE_ROWS,
    listing,
)
from billing_dagster.defs.quality.scope import (
    Partition,
    event_check,
    result,
)
from billing_dagster.ingest.loader import FIRST_EVENT_DATE

if TYPE_CHECKING:
    import pandas as pd

#: The columns of the sample: those the suite validates, then where each row came from.
SAMPLE_COLUMNS = ["event_id", "customer_id", "timestamp", "load_seq", "line_no", "file_name"]


def _expectations() -> list[tuple[str, str, object]]:
    """(column, rule as people read it, expectation) of the suite."""
    import great_expectations as gx
    import pandas as pd

    expect = gx.expectations
    first = pd.Timestamp(datetime.combine(FIRST_EVENT_DATE, datetime.min.time(), UTC))
    return [
        ("event_id", "not null", expect.ExpectColumnValuesToNotBeNull(column="event_id")),
        (
            "event_id",
            f"1..{MAX_EVENT_ID_LENGTH} characters",
            expect.ExpectColumnValueLengthsToBeBetween(
                column="event_id", min_value=1, max_value=MAX_EVENT_ID_LENGTH
            ),
        ),
        ("customer_id", "not null", expect.ExpectColumnValuesToNotBeNull(column="customer_id")),
        (
            "customer_id",
            "not empty",
            expect.ExpectColumnValueLengthsToBeBetween(column="customer_id", min_value=1),
        ),
        ("timestamp", "not null", expect.ExpectColumnValuesToNotBeNull(column="timestamp")),
        (
            "timestamp",
            f">= {FIRST_EVENT_DATE.isoformat()}",
            expect.ExpectColumnValuesToBeBetween(column="timestamp", min_value=first),
        ),
        ("load_seq", "not null", expect.ExpectColumnValuesToNotBeNull(column="load_seq")),
        ("line_no", "not null", expect.ExpectColumnValuesToNotBeNull(column="line_no")),
    ]


def validate_events(frame: pd.DataFrame) -> list[tuple[str, str, list[int]]]:
    """(column, rule, row indexes of the first failures) of each expectation `frame` fails,
    in the order of the suite. Timestamps are compared in UTC."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
        mode="ephemeral",
    )
    frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))
    batch = (
        context.data_sources.add_pandas("billing")
        .add_dataframe_asset("raw_events")
        .add_batch_definition_whole_dataframe("landing_day")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectations = _expectations()
    suite = gx.ExpectationSuite("raw_events", expectations=[e for _, _, e in expectations])
    # Results do not come in the order of the suite: match them by expectation type and column.
    outcomes = {
        (o.expectation_config.type, o.expectation_config.kwargs["column"]): o
        for o in batch.validate(suite, result_format="SUMMARY").results
    }
    failures = []
    for column, rule, expectation in expectations:
        outcome = outcomes[(expectation.expectation_type, column)]
        if not outcome.success:
            failures.append(
                (column, rule, list(outcome.result.get("partial_unexpected_index_list") or []))
            )
    return failures


@event_check(
    "schema_and_types",
    f"Great Expectations on up to {SCHEMA_SAMPLE_ROWS} stored events of the day: "
    "ids present and within bounds, timestamps present and not before the first day.",
)
def event_schema(partition: Partition) -> dg.AssetCheckResult:
    frame = partition.client.query_df(
        partition.sql(
            f"SELECT e.{', e.'.join(SAMPLE_COLUMNS[:-1])}, l.file_name "
            "FROM {db}.raw_events AS e JOIN {db}.event_loads AS l ON e.load_seq = l.load_seq "
            f"WHERE e.load_seq IN ({{loads}}) LIMIT {SCHEMA_SAMPLE_ROWS}"
        ),
        parameters=partition.days,
    )
    # A day without events (no load, or every line quarantined) gives a frame without columns.
    frame = frame.reindex(columns=SAMPLE_COLUMNS).sort_values(
        ["load_seq", "line_no"], ignore_index=True
    )
    failures = validate_events(frame)
    found = [
        f"{column} {rule}: "
        + ", ".join(f"{frame.file_name[i]}:{frame.line_no[i]}" for i in rows[:3])
        for column, rule, rows in failures
    ]
    description = (
        f"{len(failures)} expectations failed on {len(frame)} events: {listing(found)}"
        if failures
        else f"{len(frame)} events meet every expectation"
    )
    return result(
        not failures,
        description,
        ERROR,
        rows_validated=len(frame),
        failed=[f"{column} {rule}" for column, rule, _ in failures],
    )
