"""What an evaluation changes in the alert history: a pure function of the figures seen and
the history so far, so that every (rule, customer, target, period, threshold) is triggered
once and resolved at most once, whoever evaluates and however often.

An alert is *triggered* the first time its threshold is reached, by the metering path
(exact usage) or earlier by `billing serve` (live usage). It is *confirmed* once exact usage
reaches it. Only a confirmed alert can be *resolved*: when exact usage falls back below its
threshold (a correction, a void, a backfill). Live usage runs ahead of exact usage, so an
alert it triggered is not resolved merely because the events have not been metered yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from billing_dagster.alerts.thresholds import reached
from billing_dagster.catalog.model import AlertRule
from billing_dagster.webhooks.outbox import stable_event_id

TransitionKind = Literal["triggered", "confirmed", "resolved"]


class Watch(NamedTuple):
    """One rule watching one figure of one customer in one period (a tuple: tens of
    thousands are hashed per evaluation)."""

    rule_id: str
    customer_id: str
    target: str  # the feature or metric code, or so_far | projected
    period_start: datetime


class AlertKey(NamedTuple):
    watch: Watch
    threshold: str  # the label: "80%", "1000"


@dataclass
class AlertState:
    triggered: bool = False
    confirmed: bool = False
    resolved: bool = False


@dataclass(frozen=True)
class Figure:
    """A watched figure as seen now, with the limit percentages are taken of."""

    value: Decimal
    limit: Decimal | None
    period_end: datetime


@dataclass(frozen=True)
class Transition:
    key: AlertKey
    kind: TransitionKind
    figure: Figure
    source: Literal["exact", "live"]

    @property
    def event_id(self) -> str:
        """Stable across evaluations: the same transition always makes the same event, so
        the outbox holds it once however often it is written."""
        watch = self.key.watch
        parts = (
            self.kind,
            watch.rule_id,
            watch.customer_id,
            watch.target,
            watch.period_start.isoformat(),
            self.key.threshold,
        )
        return stable_event_id(*parts)


def exact_transitions(
    rules: dict[str, AlertRule],
    figures: dict[Watch, Figure],
    history: dict[AlertKey, AlertState],
) -> list[Transition]:
    """Triggers, confirmations and resolutions from the exact figures of the watches
    evaluated (a watch with history whose usage was corrected away needs its figure, 0)."""
    transitions: list[Transition] = []
    by_watch: dict[Watch, list[tuple[AlertKey, AlertState]]] = {}
    for key, state in history.items():
        by_watch.setdefault(key.watch, []).append((key, state))
    for watch, figure in figures.items():
        labels = reached(rules[watch.rule_id], figure.value, figure.limit)
        for label in labels:
            key = AlertKey(watch, label)
            state = history.get(key, AlertState())
            if not state.triggered:
                transitions.append(Transition(key, "triggered", figure, "exact"))
            elif not state.confirmed:
                transitions.append(Transition(key, "confirmed", figure, "exact"))
        for key, state in by_watch.get(watch, []):
            if key.threshold in labels:
                continue
            if state.triggered and state.confirmed and not state.resolved:
                transitions.append(Transition(key, "resolved", figure, "exact"))
    return transitions


def live_transitions(
    rules: dict[str, AlertRule],
    figures: dict[Watch, Figure],
    history: dict[AlertKey, AlertState],
) -> list[Transition]:
    """Triggers only: live usage never goes down, so it resolves nothing."""
    return [
        Transition(AlertKey(watch, label), "triggered", figure, "live")
        for watch, figure in figures.items()
        for label in reached(rules[watch.rule_id], figure.value, figure.limit)
        if not history.get(AlertKey(watch, label), AlertState()).triggered
    ]


def apply(history: dict[AlertKey, AlertState], transitions: list[Transition]) -> None:
    """The history after these transitions (in place)."""
    for transition in transitions:
        state = history.setdefault(transition.key, AlertState())
        if transition.kind == "triggered":
            state.triggered = True
            state.confirmed = state.confirmed or transition.source == "exact"
        elif transition.kind == "confirmed":
            state.confirmed = True
        else:
            state.resolved = True
