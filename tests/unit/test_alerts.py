"""Alert thresholds and transitions: exact crossings, and a randomized history of exact and
live evaluations checked against an independent reference: each alert triggered once,
resolved at most once, and only after exact usage had reached it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dagster.alerts.candidates import position
from billing_dagster.alerts.evaluation import evaluation_instants
from billing_dagster.alerts.thresholds import MAX_RECURRING, reached
from billing_dagster.alerts.transitions import (
    AlertKey,
    Figure,
    Watch,
    apply,
    exact_transitions,
    live_transitions,
)
from billing_dagster.catalog.model import AlertRule, Threshold

START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


def rule(*labels: str, every: str | None = None, target: str = "feature") -> AlertRule:
    def threshold(label: str) -> Threshold:
        percent = label.endswith("%")
        return Threshold(Decimal(label.rstrip("%")), percent)

    return AlertRule(
        "r", "*", target, "calls", tuple(map(threshold, labels)), every and threshold(every)
    )


def test_percentages_are_of_the_limit_and_quantities_absolute():
    percent = rule("50%", "80%", "100%")
    assert reached(percent, Decimal("499"), Decimal("1000")) == []
    assert reached(percent, Decimal("500"), Decimal("1000")) == ["50%"]
    assert reached(percent, Decimal("1000"), Decimal("1000")) == ["50%", "80%", "100%"]
    assert reached(percent, Decimal("5000"), None) == []  # unlimited: no percentage
    absolute = rule("10.5", "20", target="metric")
    assert reached(absolute, Decimal("10.5"), None) == ["10.5"]
    assert reached(absolute, Decimal("0"), None) == []


def test_a_recurring_step_fires_every_further_step_up_to_a_bound():
    recurring = rule("50%", "100%", every="100%")
    assert reached(recurring, Decimal("349"), Decimal("100")) == ["50%", "100%", "200%", "300%"]
    flood = rule("1", every="0.001", target="metric")
    assert len(reached(flood, Decimal("1000000"), None)) == 1 + MAX_RECURRING


def test_a_label_stands_where_reached_lists_it_and_nowhere_when_the_rule_lost_it():
    recurring = rule("50%", "100%", every="100%")
    labels = reached(recurring, Decimal("100000"), Decimal("100"))
    assert [position(recurring, label) for label in labels] == list(range(1, len(labels) + 1))
    assert position(recurring, "1002%") == 0 == position(recurring, "150%")
    assert position(recurring, "300") == 0  # not a percentage
    assert position(recurring, str(100 + (MAX_RECURRING + 1) * 100) + "%") == 0
    steps = rule("1.5", every="0.25", target="metric")
    assert [position(steps, label) for label in ("1.5", "1.75", "2.00", "2.25")] == [1, 2, 3, 4]
    assert position(steps, "2") == 0 == position(steps, "1.6")  # not labels of the rule


def test_metered_days_of_periods_over_are_evaluated_at_their_last_instant():
    now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    today, tomorrow = datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    assert evaluation_instants(today, tomorrow, now) == [now]
    assert evaluation_instants(datetime(2026, 10, 31, tzinfo=UTC), tomorrow, now) == [
        datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC),
        now,
    ]
    november = datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)
    assert evaluation_instants(*november, now) == [
        datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC),
        now,
    ]


def watch(customer: str = "acme") -> Watch:
    return Watch("r", customer, "calls", START)


def figure(value: str, limit: str | None = "100") -> Figure:
    return Figure(Decimal(value), Decimal(limit) if limit else None, END)


def test_live_usage_triggers_early_and_exact_usage_confirms_without_a_second_event():
    rules, history = {"r": rule("50%", "100%")}, {}
    live = live_transitions(rules, {watch(): figure("60")}, history)
    assert [(t.kind, t.key.threshold, t.source) for t in live] == [("triggered", "50%", "live")]
    apply(history, live)
    # Exact usage lags (events not metered yet): nothing is resolved.
    assert exact_transitions(rules, {watch(): figure("10")}, history) == []
    confirmed = exact_transitions(rules, {watch(): figure("60")}, history)
    assert [(t.kind, t.key.threshold) for t in confirmed] == [("confirmed", "50%")]
    apply(history, confirmed)
    # A correction lowers usage: resolved once, never again.
    resolved = exact_transitions(rules, {watch(): figure("40")}, history)
    assert [(t.kind, t.key.threshold) for t in resolved] == [("resolved", "50%")]
    apply(history, resolved)
    assert exact_transitions(rules, {watch(): figure("40")}, history) == []
    assert exact_transitions(rules, {watch(): figure("70")}, history) == []


def test_event_ids_are_stable_and_differ_by_kind_and_key():
    rules = {"r": rule("50%")}
    first = exact_transitions(rules, {watch(): figure("60")}, {})
    again = exact_transitions(rules, {watch(): figure("99")}, {})
    other = exact_transitions(rules, {watch("beta"): figure("60")}, {})
    assert first[0].event_id == again[0].event_id != other[0].event_id
    assert first[0].event_id.startswith("evt_") and len(first[0].event_id) == 28


evaluations = st.lists(
    st.tuples(st.sampled_from(["exact", "live"]), st.integers(0, 250)), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(evaluations, st.sampled_from([None, "100%", "25%"]))
def test_randomized_histories_match_the_reference(steps, every):
    """Live figures never fall below the exact figure of the same moment; exact figures
    move freely (corrections, backfills)."""
    rules = {"r": rule("50%", "80%", "100%", every=every)}
    history, emitted = {}, []
    exact_so_far = 0
    for source, value in steps:
        if source == "live":
            value = max(value, exact_so_far)
            changes = live_transitions(rules, {watch(): figure(str(value))}, history)
        else:
            exact_so_far = value
            changes = exact_transitions(rules, {watch(): figure(str(value))}, history)
        apply(history, changes)
        emitted += [(t.kind, t.key) for t in changes]
    # The reference: a threshold is triggered iff any figure reached it; resolved iff an
    # exact figure reached it and a later exact figure fell below it.
    expected = set()
    for label in {label for _, value in steps for label in reached_labels(rules, value)}:
        key = AlertKey(watch(), label)
        expected.add(("triggered", key))
        exact = [v for s, v in steps if s == "exact"]
        seen = [label in reached_labels(rules, v) for v in exact]
        if True in seen and False in seen[seen.index(True) :]:
            expected.add(("resolved", key))
    announced = [(kind, key) for kind, key in emitted if kind != "confirmed"]
    assert len(announced) == len(set(announced))  # nothing twice
    assert set(announced) == expected


def reached_labels(rules, value) -> list[str]:
    return reached(rules["r"], Decimal(value), Decimal("100"))
