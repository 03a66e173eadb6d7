"""The metering oracle (`tests/reference/usage.py`) against hand-computed quantities.

Every expected value here is worked out by hand from CONTRACT.md §1 and §3, so the oracle
that the randomized pipeline tests trust is itself checked case by case.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_dagster.catalog.model import (
    Catalog,
    Customer,
    Metric,
    Plan,
    PlanVersion,
    Subscription,
)
from tests.reference.usage import (
    decimal_text,
    parse_timestamp,
    reference_ingest,
    reference_usage,
    usage_of_events,
)

PLAN = Plan("basic", "Basic", (PlanVersion("basic", 1, date(2020, 1, 1), "USD"),))
OCT = "2026-10"
MID_OCT = "2026-10-15T12:00:00Z"
EMPTY = {"accepted": 0, "duplicates": 0, "quarantined": 0}


def catalog(
    metrics: tuple[Metric, ...],
    windows: dict[str, list[tuple[date, date | None]]] | None = None,
    timezone: str = "UTC",
) -> Catalog:
    """Customers on the basic plan over (start, end) windows, in `timezone`; default: acme
    from January on."""
    windows = {"acme": [(date(2026, 1, 1), None)]} if windows is None else windows
    customers = tuple(
        Customer(
            name,
            name,
            subscriptions=tuple(
                Subscription(f"{name}:basic:{start}", name, "basic", 1, start, end)
                for start, end in spans
            ),
            timezone=timezone,
        )
        for name, spans in windows.items()
    )
    return Catalog(metrics=metrics, plans=(PLAN,), customers=customers)


def event(
    event_id: str,
    name: str = "api",
    timestamp: str = MID_OCT,
    props: str = "{}",
    customer: str = "acme",
    **extra: object,
) -> str:
    """One JSONL line; `props` is the raw JSON text of the properties, so numbers stay exact."""
    head = json.dumps(
        {"event_id": event_id, "customer_id": customer, "event_name": name, "timestamp": timestamp}
    )
    tail = "".join(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in extra.items())
    return f'{head[:-1]}, "properties": {props}{tail}}}'


def jsonl(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def usage(lines: list[str], metrics: tuple[Metric, ...], period: str = OCT, **kw) -> list[dict]:
    """Usage after one load of one file holding `lines`."""
    return reference_usage([[jsonl(*lines)]], catalog(metrics, **kw), period)


def quantities(rows: list[dict]) -> dict[tuple[str, str, str | None], str]:
    return {(r["customer_id"], r["metric"], r["group"]): r["quantity"] for r in rows}


def row(metric: str, quantity: str, group: str | None = None, customer: str = "acme") -> dict:
    return {
        "customer_id": customer,
        "metric": metric,
        "group": group,
        "period": OCT,
        "quantity": quantity,
    }


CALLS = Metric("calls", "api", "count")
TOKENS = Metric("tokens", "gen", "sum", "n")
PEAK = Metric("peak", "gen", "max", "n")
LEVEL = Metric("level", "gen", "latest", "n")
USERS = Metric("users", "api", "count_unique", "user")


# ---------------------------------------------------------------------------------------------
# Aggregations


def test_count_counts_events_of_the_metric_name_only():
    lines = [event("e1"), event("e2"), event("e3", name="other"), event("e4")]
    assert usage(lines, (CALLS,)) == [row("calls", "3")]


def test_sum_is_exact_decimal():
    lines = [
        event("e1", "gen", props='{"n": 0.1}'),
        event("e2", "gen", props='{"n": 0.2}'),
    ]
    assert usage(lines, (TOKENS,)) == [row("tokens", "0.3")]


def test_sum_of_long_numbers_loses_no_digit():
    lines = [
        event("e1", "gen", props='{"n": 12345678901234567.123456789}'),
        event("e2", "gen", props='{"n": 0.876543211}'),
        event("e3", "gen", props='{"n": 123456789012345678901234567890.5}'),
    ]
    # 12345678901234567.123456789 + 0.876543211 = 12345678901234568
    expected = "123456789012358024580135802458.5"
    assert usage(lines, (TOKENS,)) == [row("tokens", expected)]


def test_sum_takes_numbers_and_decimal_strings_and_leaves_out_the_rest():
    lines = [
        event("e1", "gen", props='{"n": 2.50}'),
        event("e2", "gen", props='{"n": "4.5"}'),  # a string that is a plain decimal
        event("e3", "gen", props='{"n": 1e2}'),  # a JSON number with an exponent: 100
        event("e4", "gen", props='{"n": "1e2"}'),  # a string, not a plain decimal
        event("e5", "gen", props='{"n": "abc"}'),
        event("e6", "gen", props='{"n": true}'),
        event("e7", "gen", props='{"n": "+1"}'),
        event("e8", "gen", props='{"n": " 1"}'),
        event("e9", "gen", props='{"m": 1}'),  # property missing
        event("e10", "gen", props='{"n": -3}'),
    ]
    # 2.5 + 4.5 + 100 - 3
    assert usage(lines, (TOKENS,)) == [row("tokens", "104")]


def test_sum_of_zero_is_a_row_and_has_no_trailing_zeros():
    lines = [event("e1", "gen", props='{"n": 1.50}'), event("e2", "gen", props='{"n": -1.5}')]
    assert usage(lines, (TOKENS,)) == [row("tokens", "0")]
    lines = [event("e1", "gen", props='{"n": 2.50}'), event("e2", "gen", props='{"n": 2.50}')]
    assert usage(lines, (TOKENS,)) == [row("tokens", "5")]


def test_max_is_the_largest_value():
    lines = [
        event("e1", "gen", props='{"n": -3}'),
        event("e2", "gen", props='{"n": 7}'),
        event("e3", "gen", props='{"n": "6.99"}'),
        event("e4", "gen", props='{"n": "x"}'),
    ]
    assert usage(lines, (PEAK,)) == [row("peak", "7")]
    lines = [event("e1", "gen", props='{"n": -3}'), event("e2", "gen", props='{"n": -1.10}')]
    assert usage(lines, (PEAK,)) == [row("peak", "-1.1")]


def test_latest_is_the_value_of_the_latest_event():
    lines = [
        event("a", "gen", "2026-10-20T00:00:00Z", '{"n": 5}'),
        event("b", "gen", "2026-10-21T00:00:00Z", '{"n": 3}'),
        event("c", "gen", "2026-10-19T00:00:00Z", '{"n": 9}'),
        event("d", "gen", "2026-10-22T00:00:00Z", '{"n": "n/a"}'),  # not numeric: left out
    ]
    assert usage(lines, (LEVEL,)) == [row("level", "3")]


def test_latest_breaks_timestamp_ties_by_greatest_event_id_as_text():
    lines = [
        # the same millisecond once truncated; "e9" > "e10" as text
        event("e9", "gen", "2026-10-20T00:00:00.1234Z", '{"n": 1}'),
        event("e10", "gen", "2026-10-20T00:00:00.1239Z", '{"n": 2}'),
        event("e1", "gen", "2026-10-20T00:00:00.123Z", '{"n": 3}'),
    ]
    assert usage(lines, (LEVEL,)) == [row("level", "1")]


def test_count_unique_compares_values_as_text():
    lines = [
        event("e1", props='{"user": "u1"}'),
        event("e2", props='{"user": "u2"}'),
        event("e3", props='{"user": "u1"}'),
        event("e4", props='{"user": 3}'),
        event("e5", props='{"user": "3"}'),  # same text as the number 3
        event("e6", props='{"user": 3.0}'),  # written "3" too
        event("e7", props='{"user": true}'),
        event("e8", props='{"user": "true"}'),
        event("e9", props='{"other": "u9"}'),  # property missing: left out
    ]
    # distinct: u1, u2, 3, true
    assert usage(lines, (USERS,)) == [row("users", "4")]


# ---------------------------------------------------------------------------------------------
# Filters and groups


def test_filters_compare_as_text_and_all_must_match():
    ok = Metric("ok", "api", "count", filters={"status": ("200", "201")})
    both = Metric("both", "api", "count", filters={"status": ("200",), "region": ("eu",)})
    lines = [
        event("e1", props='{"status": 200}'),
        event("e2", props='{"status": "200"}'),
        event("e3", props='{"status": 200.00}'),  # the number 200
        event("e4", props='{"status": "201", "region": "eu"}'),
        event("e5", props='{"status": 500, "region": "eu"}'),
        event("e6", props='{"status": "200 "}'),
        event("e7", props='{"region": "eu"}'),  # status missing
        event("e8", props='{"status": 200, "region": "eu"}'),
        event("e9", props='{"status": "200.0"}'),  # a string: kept as written
    ]
    assert quantities(usage(lines, (ok, both))) == {
        ("acme", "ok", None): "5",  # e1, e2, e3, e4, e8
        ("acme", "both", None): "1",  # e8
    }


def test_filters_with_sum():
    paid = Metric("paid", "gen", "sum", "n", filters={"tier": ("paid",)})
    lines = [
        event("e1", "gen", props='{"n": 1, "tier": "paid"}'),
        event("e2", "gen", props='{"n": 10, "tier": "free"}'),
        event("e3", "gen", props='{"n": 100}'),
    ]
    assert usage(lines, (paid,)) == [row("paid", "1")]


def test_group_by_gives_one_row_per_value_and_leaves_out_events_without_it():
    by_model = Metric("tokens", "gen", "sum", "n", group_by="model")
    lines = [
        event("e1", "gen", props='{"n": 5, "model": "small"}'),
        event("e2", "gen", props='{"n": 7, "model": "large"}'),
        event("e3", "gen", props='{"n": 1, "model": "small"}'),
        event("e4", "gen", props='{"n": 1000}'),  # no model: left out
        event("e5", "gen", props='{"n": 2, "model": 2.50}'),  # grouped as "2.5"
        event("e6", "gen", props='{"n": "x", "model": "tiny"}'),  # not numeric: no group
    ]
    assert usage(lines, (by_model,)) == [
        row("tokens", "2", "2.5"),
        row("tokens", "7", "large"),
        row("tokens", "6", "small"),
    ]


def test_group_by_with_count_and_count_unique():
    calls = Metric("calls", "api", "count", group_by="region")
    users = Metric("users", "api", "count_unique", "user", group_by="region")
    lines = [
        event("e1", props='{"region": "eu", "user": "a"}'),
        event("e2", props='{"region": "eu", "user": "a"}'),
        event("e3", props='{"region": "us", "user": "a"}'),
        event("e4", props='{"region": "us"}'),
        event("e5", props='{"user": "b"}'),
    ]
    assert quantities(usage(lines, (calls, users))) == {
        ("acme", "calls", "eu"): "2",
        ("acme", "calls", "us"): "2",
        ("acme", "users", "eu"): "1",
        ("acme", "users", "us"): "1",
    }


def test_every_metric_with_events_has_a_row_and_none_without():
    lines = [event("e1"), event("e2", "gen", props='{"n": 4}')]
    unused = Metric("unused", "nothing", "count")
    assert usage(lines, (CALLS, TOKENS, PEAK, LEVEL, USERS, unused)) == [
        row("calls", "1"),
        row("level", "4"),
        row("peak", "4"),
        row("tokens", "4"),
    ]


# ---------------------------------------------------------------------------------------------
# Periods, timestamps and subscription windows


EDGES = [
    event("sep", timestamp="2026-09-30T23:59:59.999Z"),
    event("oct-first", timestamp="2026-10-01T00:00:00Z"),
    event("oct-last", timestamp="2026-10-31T23:59:59.999Z"),
    event("oct-truncated", timestamp="2026-10-31T23:59:59.9999999Z"),  # truncated, not rounded
    event("nov-first", timestamp="2026-11-01T00:00:00Z"),
    event("nov-by-offset", timestamp="2026-10-31T23:30:00-01:00"),  # 2026-11-01T00:30Z
    event("oct-by-offset", timestamp="2026-11-01T00:30:00+01:00"),  # 2026-10-31T23:30Z
    event("oct-from-sep", timestamp="2026-09-30T22:00:00-02:00"),  # 2026-10-01T00:00Z
]


@pytest.mark.parametrize(
    ("period", "count"), [("2026-09", "1"), ("2026-10", "5"), ("2026-11", "2")]
)
def test_period_edges_and_offsets(period, count):
    assert usage(EDGES, (CALLS,), period) == [{**row("calls", count), "period": period}]


def test_period_edges_event_by_event():
    ingested = reference_ingest([[jsonl(*EDGES)]], catalog((CALLS,)))
    timestamps = {e.event_id: e.timestamp for e in ingested.events}
    assert timestamps["oct-truncated"] == datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert timestamps["nov-by-offset"] == datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
    assert timestamps["oct-from-sep"] == datetime(2026, 10, 1, tzinfo=UTC)


def test_december_period_ends_at_new_year():
    lines = [
        event("e1", timestamp="2026-12-31T23:59:59.999Z"),
        event("e2", timestamp="2027-01-01T00:00:00Z"),
    ]
    assert quantities(usage(lines, (CALLS,), "2026-12")) == {("acme", "calls", None): "1"}
    assert quantities(usage(lines, (CALLS,), "2027-01")) == {("acme", "calls", None): "1"}


WINDOW_EVENTS = [
    event("before-start", timestamp="2026-10-09T23:59:59.999Z"),
    event("at-start", timestamp="2026-10-10T00:00:00Z"),
    event("before-end", timestamp="2026-10-19T23:59:59.999Z"),
    event("at-end", timestamp="2026-10-20T00:00:00Z"),
    event("late", timestamp="2026-10-31T12:00:00Z"),
]


def test_window_starting_mid_month():
    windows = {"acme": [(date(2026, 10, 10), None)]}
    assert usage(WINDOW_EVENTS, (CALLS,), windows=windows) == [row("calls", "4")]


def test_window_ending_mid_month_is_exclusive():
    windows = {"acme": [(date(2026, 1, 1), date(2026, 10, 20))]}
    assert usage(WINDOW_EVENTS, (CALLS,), windows=windows) == [row("calls", "3")]


def test_window_inside_the_month():
    windows = {"acme": [(date(2026, 10, 10), date(2026, 10, 20))]}
    assert usage(WINDOW_EVENTS, (CALLS,), windows=windows) == [row("calls", "2")]


def test_plan_change_mid_month_gives_one_row_per_subscription_in_start_order():
    windows = {"acme": [(date(2026, 10, 10), None), (date(2026, 1, 1), date(2026, 10, 10))]}
    assert usage(WINDOW_EVENTS, (CALLS,), windows=windows) == [
        row("calls", "1"),  # January subscription: before-start
        row("calls", "4"),  # from October 10th
    ]


def test_subscription_outside_the_period_has_no_rows():
    ended = {"acme": [(date(2026, 1, 1), date(2026, 10, 1))]}
    later = {"acme": [(date(2026, 11, 1), None)]}
    assert usage(WINDOW_EVENTS, (CALLS,), windows=ended) == []
    assert usage(WINDOW_EVENTS, (CALLS,), windows=later) == []


def test_customer_without_subscription_has_events_but_no_rows():
    windows = {"acme": [], "bolt": [(date(2026, 1, 1), None)]}
    lines = [event("e1"), event("e2", customer="bolt")]
    result = reference_ingest([[jsonl(*lines)]], catalog((CALLS,), windows))
    assert result.summaries == [{"accepted": 2, "duplicates": 0, "quarantined": 0}]
    assert usage(lines, (CALLS,), windows=windows) == [row("calls", "1", customer="bolt")]


def test_rows_are_sorted_by_customer_metric_group():
    windows = {"zed": [(date(2026, 1, 1), None)], "acme": [(date(2026, 1, 1), None)]}
    by_model = Metric("b_tokens", "gen", "count", group_by="model")
    lines = [
        event("e1", "gen", customer="zed", props='{"model": "b"}'),
        event("e2", "gen", customer="zed", props='{"model": "a"}'),
        event("e3", "api", customer="zed"),
        event("e4", "api", customer="acme"),
    ]
    assert usage(lines, (CALLS, by_model), windows=windows) == [
        row("calls", "1", customer="acme"),
        row("b_tokens", "1", "a", customer="zed"),
        row("b_tokens", "1", "b", customer="zed"),
        row("calls", "1", customer="zed"),
    ]


# ---------------------------------------------------------------------------------------------
# Corrections


def counted_ids(lines: list[str]) -> set[str]:
    """Which events count: a count metric per event id (ids are distinct in these tests)."""
    metrics = tuple(
        Metric(f"m-{i}", "gen", "count", filters={"id": (f"{i}",)}) for i in range(1, 10)
    )
    return {r["metric"].removeprefix("m-") for r in usage(lines, metrics)}


def gen(i: int, **extra: object) -> str:
    return event(f"e{i}", "gen", props=f'{{"id": "{i}", "n": {i}}}', **extra)


def test_replacement_counts_in_place_of_the_original():
    assert counted_ids([gen(1), gen(2, replaces="e1")]) == {"2"}


def test_replacement_chain_counts_only_the_last():
    assert counted_ids([gen(1), gen(2, replaces="e1"), gen(3, replaces="e2")]) == {"3"}


def test_void_replacement_at_the_end_of_a_chain_leaves_nothing():
    lines = [gen(1), gen(2, replaces="e1"), gen(3, replaces="e2", void=True)]
    assert counted_ids(lines) == set()


def test_void_without_replaces_counts_normally():
    assert counted_ids([gen(1, void=True), gen(2, void=False), gen(3)]) == {"1", "2", "3"}


def test_void_false_with_replaces_is_an_ordinary_replacement():
    assert counted_ids([gen(1), gen(2, replaces="e1", void=False)]) == {"2"}


def test_a_correction_of_an_event_not_ingested_before_is_quarantined():
    lines = [gen(1, replaces="nope"), gen(2, replaces="gone", void=True)]
    assert counted_ids(lines) == set()
    assert reference_ingest([[jsonl(*lines)]], catalog((CALLS,))).summaries == [
        {"accepted": 0, "duplicates": 0, "quarantined": 2}
    ]


def test_a_correction_before_its_original_is_quarantined_and_the_original_counts():
    assert counted_ids([gen(2, replaces="e1"), gen(1)]) == {"1"}


def test_of_two_corrections_of_one_event_the_later_counts():
    assert counted_ids([gen(1), gen(2, replaces="e1"), gen(3, replaces="e1")]) == {"3"}
    # A correction of the superseded one still stands for the same original, and is later.
    lines = [gen(1), gen(2, replaces="e1"), gen(3, replaces="e1"), gen(4, replaces="e2")]
    assert counted_ids(lines) == {"4"}


def test_a_replaces_loop_is_quarantined_whole():
    """e1 names e2, not ingested yet: quarantined; e2 names e1, never accepted: quarantined
    too. Nothing counts twice, and both lines are in quarantine with their reason."""
    assert counted_ids([gen(1, replaces="e2"), gen(2, replaces="e1")]) == set()
    # Once e1 is in the store, e2 replacing it counts in its place.
    assert counted_ids([gen(1), gen(2, replaces="e1"), gen(3, replaces="e2")]) == {"3"}


def test_replacement_only_applies_within_the_customer():
    windows = {"acme": [(date(2026, 1, 1), None)], "bolt": [(date(2026, 1, 1), None)]}
    lines = [event("e1"), event("e2", customer="bolt", replaces="e1")]
    assert quantities(usage(lines, (CALLS,), windows=windows)) == {
        ("acme", "calls", None): "1",
    }


def test_replacement_in_another_period_removes_the_original():
    lines = [
        event("e1", "gen", "2026-10-05T00:00:00Z", '{"n": 10}'),
        event("e2", "gen", "2026-10-06T00:00:00Z", '{"n": 1}'),
        event("e3", "gen", "2026-11-02T00:00:00Z", '{"n": 4}', replaces="e1"),
    ]
    assert usage(lines, (TOKENS,)) == [row("tokens", "1")]
    assert quantities(usage(lines, (TOKENS,), "2026-11")) == {("acme", "tokens", None): "4"}


def test_replacement_in_a_later_load_corrects_the_earlier_one():
    metrics = (TOKENS,)
    first = jsonl(event("e1", "gen", props='{"n": 10}'))
    second = jsonl(event("e2", "gen", props='{"n": 12}', replaces="e1"))
    assert reference_usage([[first], [second]], catalog(metrics), OCT) == [row("tokens", "12")]


# ---------------------------------------------------------------------------------------------
# Deduplication and load summaries


def test_first_copy_wins_within_a_file():
    lines = [
        event("e1", "gen", props='{"n": 1}'),
        event("e1", "gen", props='{"n": 100}'),  # conflicting duplicate: ignored
        event("e1", "gen", props='{"n": 1}'),
    ]
    result = reference_ingest([[jsonl(*lines)]], catalog((TOKENS,)))
    assert result.summaries == [{"accepted": 1, "duplicates": 2, "quarantined": 0}]
    assert usage(lines, (TOKENS,)) == [row("tokens", "1")]


def test_first_copy_wins_across_files_of_a_load_in_the_order_given():
    a = jsonl(event("e1", "gen", props='{"n": 1}'))
    b = jsonl(event("e1", "gen", props='{"n": 2}'), event("e2", "gen", props='{"n": 3}'))
    cat = catalog((TOKENS,))
    assert reference_ingest([[a, b]], cat).summaries == [
        {"accepted": 2, "duplicates": 1, "quarantined": 0}
    ]
    assert reference_usage([[a, b]], cat, OCT) == [row("tokens", "4")]
    assert reference_usage([[b, a]], cat, OCT) == [row("tokens", "5")]


def test_first_copy_wins_across_loads():
    first = jsonl(event("e1", "gen", props='{"n": 1}'))
    second = jsonl(event("e1", "gen", props='{"n": 50}'), event("e2", "gen", props='{"n": 2}'))
    cat = catalog((TOKENS,))
    result = reference_ingest([[first], [second]], cat)
    assert result.summaries == [
        {"accepted": 1, "duplicates": 0, "quarantined": 0},
        {"accepted": 1, "duplicates": 1, "quarantined": 0},
    ]
    assert [e.event_id for e in result.events] == ["e1", "e2"]
    assert reference_usage([[first], [second]], cat, OCT) == [row("tokens", "3")]


def test_loading_the_same_file_again_changes_nothing():
    content = jsonl(event("e1"), event("e2"), "not json")
    cat = catalog((CALLS,))
    result = reference_ingest([[content], [content]], cat)
    assert result.summaries == [
        {"accepted": 2, "duplicates": 0, "quarantined": 1},
        {"accepted": 0, "duplicates": 0, "quarantined": 0},  # the same bytes: the same file
    ]
    assert reference_usage([[content], [content]], cat, OCT) == [row("calls", "2")]


def test_the_key_is_customer_and_event_id():
    windows = {"acme": [(date(2026, 1, 1), None)], "bolt": [(date(2026, 1, 1), None)]}
    lines = [event("e1"), event("e1", customer="bolt")]
    assert reference_ingest([[jsonl(*lines)]], catalog((CALLS,), windows)).summaries == [
        {"accepted": 2, "duplicates": 0, "quarantined": 0}
    ]


def test_a_quarantined_first_copy_does_not_take_the_key():
    lines = [event("e1", timestamp="yesterday"), event("e1"), event("e1")]
    assert reference_ingest([[jsonl(*lines)]], catalog((CALLS,))).summaries == [
        {"accepted": 1, "duplicates": 1, "quarantined": 1}
    ]


def test_blank_lines_are_not_counted():
    content = "\n  \n" + event("e1") + "\n\t\n\n" + event("e2")  # no final newline
    assert reference_ingest([[content]], catalog((CALLS,))).summaries == [
        {"accepted": 2, "duplicates": 0, "quarantined": 0}
    ]
    assert reference_ingest([["", "\n\n"], []], catalog((CALLS,))).summaries == [EMPTY, EMPTY]


def test_usage_of_events_equals_reference_usage():
    lines = [event("e1"), event("e2", replaces="e1"), event("e3")]
    cat = catalog((CALLS,))
    events = reference_ingest([[jsonl(*lines)]], cat).events
    assert usage_of_events(events, cat, OCT) == reference_usage([[jsonl(*lines)]], cat, OCT)


# ---------------------------------------------------------------------------------------------
# Quarantine


def raw(**fields: object) -> str:
    """A line with exactly these fields (on top of valid required ones unless overridden)."""
    base: dict[str, object] = {
        "event_id": "e1",
        "customer_id": "acme",
        "event_name": "api",
        "timestamp": MID_OCT,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not MISSING})


MISSING = object()

BAD_LINES = {
    "not json": "not json",
    "truncated json": '{"event_id": "e1"',
    "json array": "[]",
    "json string": '"event"',
    "json number": "42",
    "json null": "null",
    "NaN is not json": raw()[:-1] + ', "properties": {"n": NaN}}',
    "event_id missing": raw(event_id=MISSING),
    "event_id number": raw(event_id=1),
    "event_id null": raw(event_id=None),
    "event_id empty": raw(event_id=""),
    "event_id 257 chars": raw(event_id="x" * 257),
    "customer_id missing": raw(customer_id=MISSING),
    "customer_id number": raw(customer_id=7),
    "customer_id empty": raw(customer_id=""),
    "customer_id unknown": raw(customer_id="ghost"),
    "event_name missing": raw(event_name=MISSING),
    "event_name bool": raw(event_name=True),
    "event_name empty": raw(event_name=""),
    "timestamp missing": raw(timestamp=MISSING),
    "timestamp number": raw(timestamp=1760000000),
    "timestamp without offset": raw(timestamp="2026-10-15T12:00:00"),
    "timestamp date only": raw(timestamp="2026-10-15"),
    "timestamp short offset": raw(timestamp="2026-10-15T12:00:00+01"),
    "timestamp compact offset": raw(timestamp="2026-10-15T12:00:00+0100"),
    "timestamp no seconds": raw(timestamp="2026-10-15T12:00Z"),
    "timestamp empty fraction": raw(timestamp="2026-10-15T12:00:00.Z"),
    "timestamp bad separator": raw(timestamp="2026-10-15X12:00:00Z"),
    "timestamp trailing newline": raw(timestamp="2026-10-15T12:00:00Z\n"),
    "timestamp leading space": raw(timestamp=" 2026-10-15T12:00:00Z"),
    "timestamp unicode digits": raw(timestamp="２026-10-15T12:00:00Z"),
    "timestamp february 30": raw(timestamp="2026-02-30T00:00:00Z"),
    "timestamp not a leap year": raw(timestamp="2026-02-29T00:00:00Z"),
    "timestamp month 13": raw(timestamp="2026-13-01T00:00:00Z"),
    "timestamp hour 24": raw(timestamp="2026-10-15T24:00:00Z"),
    "timestamp minute 60": raw(timestamp="2026-10-15T12:60:00Z"),
    "timestamp second 60": raw(timestamp="2026-10-15T12:00:60Z"),
    "timestamp offset hour 24": raw(timestamp="2026-10-15T12:00:00+24:00"),
    "timestamp offset minute 60": raw(timestamp="2026-10-15T12:00:00+01:60"),
    "properties array": raw(properties=[]),
    "properties string": raw(properties="{}"),
    "property null": raw(properties={"a": None}),
    "property array": raw(properties={"a": [1]}),
    "property object": raw(properties={"a": {"b": 1}}),
    "source number": raw(source=1),
    "source object": raw(source={}),
    "replaces number": raw(replaces=1),
    "replaces bool": raw(replaces=False),
    "replaces itself": raw(replaces="e1"),
    "void string": raw(replaces="e0", void="true"),
    "void number": raw(void=1),
    "repeated field": raw()[:-1] + ', "event_id": "e9"}',
    "repeated property": raw(properties={"a": 1})[:-2] + ', "a": 2}}',
    "number beyond a double": raw(properties={"n": 1})[:-3] + "1e400}}",
    "line over 1 MiB": raw(properties={"a": "x" * (1 << 20)}),
    "property over 64 KiB": raw(properties={"a": "x" * (64 << 10)}),
}


@pytest.mark.parametrize("line", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_line_is_quarantined(line):
    cat = catalog((CALLS,))
    assert reference_ingest([[line + "\n"]], cat).summaries == [
        {"accepted": 0, "duplicates": 0, "quarantined": 1}
    ]
    assert reference_usage([[line + "\n"]], cat, OCT) == []


GOOD_LINES = {
    "minimal": raw(),
    "every optional field null": raw(properties=None, source=None, replaces=None, void=None),
    "every optional field set": raw(properties={"a": "x", "b": 1.5, "c": False}, source="s"),
    "event_id 256 chars": raw(event_id="x" * 256),
    "event_id one char": raw(event_id="x"),
    "space separator": raw(timestamp="2026-10-15 12:00:00Z"),
    "lowercase t and z": raw(timestamp="2026-10-15t12:00:00z"),
    "long fraction": raw(timestamp="2026-10-15T12:00:00.123456789Z"),
    "negative offset": raw(timestamp="2026-10-15T12:00:00-09:30"),
    "leap day": raw(timestamp="2028-02-29T00:00:00Z"),
    "empty source": raw(source=""),
    "empty properties": raw(properties={}),
    "empty property value": raw(properties={"a": ""}),
    "unknown extra field": raw(extra=[1, 2]),
    "void without replaces": raw(void=True),
    "surrounding whitespace": "  " + raw() + "  ",
}


@pytest.mark.parametrize("line", GOOD_LINES.values(), ids=GOOD_LINES.keys())
def test_good_line_is_accepted(line):
    assert reference_ingest([[line + "\n"]], catalog((CALLS,))).summaries == [
        {"accepted": 1, "duplicates": 0, "quarantined": 0}
    ]


def test_every_line_is_exactly_one_of_accepted_duplicate_quarantined():
    lines = [*BAD_LINES.values(), *GOOD_LINES.values(), raw(), raw(event_id="e2")]
    summary = reference_ingest([[jsonl(*lines)]], catalog((CALLS,))).summaries[0]
    # e1 is first accepted from the first good line; "x" * 256, "x" and e2 once each; the
    # other 13 good lines and the extra raw() are copies of e1.
    assert summary == {"accepted": 4, "duplicates": 14, "quarantined": len(BAD_LINES)}
    assert sum(summary.values()) == len(lines)


# ---------------------------------------------------------------------------------------------
# Text of values


@pytest.mark.parametrize(
    ("written", "text"),
    [
        ("2.50", "2.5"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("0e-5", "0"),
        ("200", "200"),
        ("0.1", "0.1"),
        ("1e-7", "0.0000001"),
        ("-1.2300e2", "-123"),
        ("12345678901234567890123456789012345.5", "12345678901234567890123456789012345.5"),
    ],
)
def test_decimal_text(written, text):
    assert decimal_text(Decimal(written)) == text


@pytest.mark.parametrize(
    ("written", "group"),
    [("2.50", "2.5"), ("1e3", "1000"), ("-0", "0"), ("200", "200"), ("true", "true")],
)
def test_property_numbers_and_bools_become_text(written, group):
    by_value = Metric("calls", "api", "count", group_by="v")
    lines = [event("e1", props=f'{{"v": {written}}}')]
    assert usage(lines, (by_value,)) == [row("calls", "1", group)]


def test_property_strings_are_kept_as_written():
    by_value = Metric("calls", "api", "count", group_by="v")
    lines = [event("e1", props='{"v": "2.50"}'), event("e2", props='{"v": "caf\\u00e9"}')]
    assert usage(lines, (by_value,)) == [row("calls", "1", "2.50"), row("calls", "1", "café")]


def test_timestamps_are_truncated_to_milliseconds():
    assert parse_timestamp("2026-10-15T12:00:00.1239Z") == datetime(
        2026, 10, 15, 12, 0, 0, 123000, tzinfo=UTC
    )
    assert parse_timestamp("2026-10-15T12:00:00.5+05:30") == datetime(
        2026, 10, 15, 6, 30, 0, 500000, tzinfo=UTC
    )


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_text_is_exact_plain_and_minimal(value):
    text = decimal_text(value)
    assert Decimal(text) == value
    assert re.fullmatch(r"0|-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?", text), text
    assert text != "-0"


NUMBERS = st.decimals(min_value=-(10**12), max_value=10**12, places=3)


@given(st.lists(NUMBERS, max_size=8))
def test_sum_equals_the_exact_sum(values):
    lines = [event(f"e{i}", "gen", props=f'{{"n": {v}}}') for i, v in enumerate(values)]
    expected = [row("tokens", decimal_text(sum(values, Decimal(0))))] if values else []
    assert usage(lines, (TOKENS,)) == expected


# ---------------------------------------------------------------------------------------------
# Time-weighted sums (docs/invoicing.md, "Time-weighted sums")

HELD = Metric("held", "disk", "time_weighted_sum", "gb", unit="hour")
HELD_DAYS = Metric("held_days", "disk", "time_weighted_sum", "gb", group_by="region", unit="day")


def disk(event_id: str, timestamp: str, gb: str, region: str = "eu") -> str:
    return event(event_id, "disk", timestamp, f'{{"gb": {gb}, "region": "{region}"}}')


def test_a_value_is_held_until_the_next_event_and_to_the_window_end():
    lines = [
        disk("e1", "2026-10-01T00:00:00Z", "2"),
        disk("e2", "2026-10-02T12:00:00Z", "0.5"),  # 2 GB for 36 h
        disk("e3", "2026-10-31T00:00:00Z", "-1"),  # 0.5 GB for 684 h; then -1 for 24 h
    ]
    assert usage(lines, (HELD,)) == [row("held", "390")]  # 72 + 342 - 24


def test_the_value_before_a_period_carries_over_and_nothing_is_held_before_the_first():
    lines = [disk("e1", "2026-09-30T23:00:00Z", "3"), disk("e2", "2026-10-16T00:00:00Z", "1")]
    # October: 3 GB for 15 days, then 1 GB for 16 days; September: 3 GB for its last hour.
    assert usage(lines, (HELD_DAYS,)) == [row("held_days", "61", "eu")]
    assert quantities(usage(lines, (HELD,), "2026-09")) == {("acme", "held", None): "3"}
    # November has no event: October's last value is held all month.
    assert quantities(usage(lines, (HELD,), "2026-11")) == {("acme", "held", None): "720"}
    # Nothing reported yet by August: no row.
    assert usage(lines, (HELD,), "2026-08") == []


def test_a_window_clips_the_intervals_and_groups_are_apart():
    windows = {"acme": [(date(2026, 10, 10), date(2026, 10, 20))]}
    lines = [
        disk("e1", "2026-10-01T00:00:00Z", "5"),
        disk("e2", "2026-10-15T00:00:00Z", "7", "us"),
        disk("e3", "2026-10-25T00:00:00Z", "9"),  # after the window: not held in it
    ]
    assert quantities(usage(lines, (HELD_DAYS,), windows=windows)) == {
        ("acme", "held_days", "eu"): "50",
        ("acme", "held_days", "us"): "35",
    }


def test_equal_timestamps_hold_the_greater_event_id():
    lines = [disk("e2", "2026-10-31T00:00:00Z", "4"), disk("e1", "2026-10-31T00:00:00Z", "100")]
    assert usage(lines, (HELD,)) == [row("held", "96")]


def test_the_quantity_is_divided_once_and_rounded_half_away_from_zero():
    # 1 ms of 0.0000018 GB = 0.0000018 / 3,600,000 h = 5e-13: rounds away to 1e-12.
    lines = [
        disk("e1", "2026-10-31T23:59:59.999Z", "0.0000018"),
        disk("e2", "2026-10-31T23:59:59.998Z", "0"),
    ]
    assert usage(lines, (HELD,)) == [row("held", "0.000000000001")]
    lines = [disk("e1", "2026-10-31T23:59:59.999Z", "-0.0000018")]
    assert usage(lines, (HELD,)) == [row("held", "-0.000000000001")]


# ---------------------------------------------------------------------------------------------
# Percentiles (docs/invoicing.md, "Percentiles")


def percentile(p: str, bucket: str = "1h") -> Metric:
    return Metric("p", "disk", "percentile", "gb", percentile=Decimal(p), bucket=bucket)


def test_a_percentile_ranks_every_bucket_of_the_window_empty_ones_as_zero():
    windows = {"acme": [(date(2026, 10, 31), None)]}  # 24 one-hour buckets in October
    lines = [
        disk("e1", "2026-10-31T00:10:00Z", "1"),
        disk("e2", "2026-10-31T00:50:00Z", "2.5"),  # same bucket: 3.5
        disk("e3", "2026-10-31T05:00:00Z", "7"),
        disk("e4", "2026-10-31T23:59:59.999Z", "-2"),
        disk("e5", "2026-10-30T12:00:00Z", "100"),  # before the window
    ]

    def at(p: str) -> str:
        rows = usage(lines, (percentile(p),), windows=windows)
        return rows[0]["quantity"]

    # Sorted: -2, 0 (x21), 3.5, 7. Rank ceil(p / 100 x 24).
    assert at("100") == "7"  # rank 24
    assert at("95.9") == "7"  # 23.016 -> 24
    assert at("95.8") == "3.5"  # 22.992 -> 23
    assert at("4.2") == "0"  # 1.008 -> 2
    assert at("4.1") == "-2"  # 0.984 -> 1
    assert at("0.000001") == "-2"


def test_percentile_buckets_are_utc_aligned_and_groups_apart():
    metric = Metric(
        "p", "disk", "percentile", "gb", group_by="region", percentile=Decimal(100), bucket="5m"
    )
    lines = [
        disk("e1", "2026-10-15T10:04:59.999Z", "1"),
        disk("e2", "2026-10-15T10:05:00Z", "2"),  # the next bucket
        disk("e3", "2026-10-15T10:09:00Z", "2"),
        disk("e4", "2026-10-15T10:09:00Z", "9", "us"),
    ]
    assert quantities(usage(lines, (metric,))) == {
        ("acme", "p", "eu"): "4",
        ("acme", "p", "us"): "9",
    }


# ---------------------------------------------------------------------------------------------
# Time zones (docs/invoicing.md, "Time zones")


def test_a_period_is_the_customers_local_month():
    lines = [
        event("e1", timestamp="2026-11-01T06:30:00Z"),  # 31 October, 23:30 in Los Angeles
        event("e2", timestamp="2026-09-30T18:30:00Z"),  # 1 October, 00:00 in Kolkata
    ]
    la = usage(lines, (CALLS,), timezone="America/Los_Angeles")
    kolkata = usage(lines, (CALLS,), timezone="Asia/Kolkata")
    assert (quantities(la), quantities(kolkata)) == (
        {("acme", "calls", None): "1"},
        {("acme", "calls", None): "1"},
    )
    # In UTC, e2 is on 30 September and e1 on 1 November.
    assert usage(lines, (CALLS,)) == []
    assert quantities(usage(lines, (CALLS,), "2026-11")) == {("acme", "calls", None): "1"}


def test_a_value_held_over_a_25_hour_day_counts_25_hours():
    # Los Angeles leaves DST on 1 November 2026: that local day has 25 hours.
    windows = {"acme": [(date(2026, 11, 1), date(2026, 11, 2))]}
    lines = [disk("e1", "2026-10-20T00:00:00Z", "2")]
    held = usage(lines, (HELD,), "2026-11", windows=windows, timezone="America/Los_Angeles")
    assert quantities(held) == {("acme", "held", None): "50"}


def test_percentile_buckets_start_at_each_local_midnight_and_a_short_day_has_fewer():
    # Lord Howe, 4 October 2026: clocks jump from 02:00 to 02:30, a 23.5-hour day; one-hour
    # buckets from its midnight (13:30 UTC the day before): 24, the last one 30 minutes.
    windows = {"acme": [(date(2026, 10, 4), date(2026, 10, 5))]}
    lines = [
        disk("e1", "2026-10-03T13:30:00Z", "1"),  # 00:00, bucket 0
        disk("e2", "2026-10-03T14:29:59.999Z", "2"),  # 00:59:59.999, bucket 0
        disk("e3", "2026-10-03T14:30:00Z", "4"),  # 01:00, bucket 1
        disk("e4", "2026-10-04T12:59:59.999Z", "5"),  # 23:59:59.999, bucket 23
    ]
    ranked = {
        p: usage(
            lines,
            (percentile(p),),
            windows=windows,
            timezone="Australia/Lord_Howe",
        )[0]["quantity"]
        for p in ("100", "91.7", "87.6", "87.5")
    }
    # Sorted: 0 (x21), 3, 4, 5 over 24 buckets; rank ceil(p / 100 x 24).
    assert ranked == {"100": "5", "91.7": "4", "87.6": "3", "87.5": "0"}


def test_a_quantity_of_31_digits_keeps_every_digit():
    # 22 days and 1 ms of 12345678901234567.123456789: 31 significant digits, more than
    # Python's default decimal context (28) keeps.
    lines = [disk("e1", "2026-10-09T23:59:59.999Z", "12345678901234567.123456789")]
    assert usage(lines, (HELD,)) == [row("held", "6518518463281206691.528119904071")]
