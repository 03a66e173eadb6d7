"""The Great Expectations suite of stored events, on DataFrames shaped like the check's
sample: nulls the warehouse columns cannot hold are checked too (another writer, a loader
bug or a later nullable column)."""

from __future__ import annotations

import pandas as pd

from billing_dagster.defs.quality.schema import validate_events


def events(**columns) -> pd.DataFrame:
    rows = {
        "event_id": ["e1", "e2", "e3"],
        "customer_id": ["acme", "acme", "globex"],
        "timestamp": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03"]),
        "load_seq": [1, 1, 2],
        "line_no": [1, 2, 1],
    }
    return pd.DataFrame(rows | columns)


def test_valid_events_meet_every_expectation():
    assert validate_events(events()) == []
    assert validate_events(events().iloc[0:0]) == []


def test_each_broken_rule_names_its_rows():
    broken = events(
        event_id=["", "x" * 257, None],
        customer_id=["acme", "", "globex"],
        timestamp=pd.to_datetime(["2019-12-31 23:59:59", None, "2026-10-03 00:00:00"], utc=True),
        line_no=[1, None, 1],
    )
    assert validate_events(broken) == [
        ("event_id", "not null", [2]),
        ("event_id", "1..256 characters", [0, 1]),
        ("customer_id", "not empty", [1]),
        ("timestamp", "not null", [1]),
        ("timestamp", ">= 2020-01-01", [0]),
        ("line_no", "not null", [1]),
    ]
