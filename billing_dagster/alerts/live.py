"""Alerts `billing serve` raises from live usage, seconds after the events that cross a
threshold, before any metering run: feature rules only (a feature's live usage is what
the entitlement answer says; metric and amount rules wait for exact usage). The same
history and lock as the metering path (`store.record`), so an alert is never announced
twice, and `entitlement.limit_reached` once per customer, feature and window.

It also keeps the live answers' spending caps: the customers whose cap rule triggered in
the current period and was not resolved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.store import read_history, record
from billing_dagster.alerts.transitions import (
    AlertKey,
    AlertState,
    Figure,
    Transition,
    Watch,
    apply,
    live_transitions,
)
from billing_dagster.catalog.model import AlertRule
from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part
from billing_dagster.entitlements.live import LiveEntitlements
from billing_dagster.entitlements.windows import window
from billing_dagster.webhooks.outbox import OutboxEvent, publish, stable_event_id


class LiveAlerts:
    def __init__(
        self, client: Callable[[], Client], database: str, home: Path, live: LiveEntitlements
    ):
        self.client = client
        self.database = database
        self.home = home
        self.live = live
        self.rules: dict[str, AlertRule] = {}
        self.history: dict[AlertKey, AlertState] = {}
        self._catalog_version: int | None = None
        self._limits_announced: set[str] = set()
        self._transitions_seen = -1

    def refresh(self) -> None:
        """Read the rules again when the catalog changed, and the history (with the caps)
        when another process recorded transitions."""
        client = self.client()
        version = latest_catalog_version(client, self.database)
        if version != self._catalog_version and version is not None:
            alerts = load_catalog_part(client, self.database, version, "alerts")
            self.rules = {rule.id: rule for rule in alerts}
            self._catalog_version = version
        recorded = int(client.command(f"SELECT count() FROM `{self.database}`.alert_transitions"))
        if recorded != self._transitions_seen:
            self.history = read_history(client, self.database)
            self._transitions_seen = recorded
            self._update_caps()

    def evaluate(self, customers: set[str]) -> list[Transition]:
        """Raise what the live usage of these customers crossed; what was recorded."""
        if not customers:
            return []
        now = datetime.now(UTC)
        self._announce_limits(customers, now)
        figures: dict[Watch, Figure] = {}
        for rule in self.rules.values():
            if rule.target != "feature":
                continue
            for customer in sorted(customers):
                if not rule.applies_to(customer):
                    continue
                answer = self.live.answer(customer, rule.code, Decimal(0))
                if answer["kind"] != "metered":
                    continue
                start = datetime.fromisoformat(answer["period_start"])
                limit = Decimal(answer["limit"]) if answer["limit"] is not None else None
                figures[Watch(rule.id, customer, rule.code, start)] = Figure(
                    Decimal(answer["usage"]), limit, datetime.fromisoformat(answer["period_end"])
                )
        if not live_transitions(self.rules, figures, self.history):
            return []  # nothing new by what this server knows: no lock, no query
        client, customers = self.client(), {watch.customer_id for watch in figures}
        transitions = record(
            client,
            self.database,
            self.home,
            self.rules,
            lambda: live_transitions(
                self.rules, figures, read_history(client, self.database, customers)
            ),
        )
        apply(self.history, transitions)  # what others recorded comes with the next refresh
        self._update_caps()
        return transitions

    def _update_caps(self) -> None:
        now = datetime.now(UTC)
        current = {window(kind, now)[0] for kind in ("billing_period", "day", "hour")}
        self.live.cap(
            frozenset(
                key.watch.customer_id
                for key, state in self.history.items()
                if state.triggered
                and not state.resolved
                and key.watch.period_start in current
                and self.rules.get(key.watch.rule_id, _NO_RULE).spending_cap
            )
        )

    def _announce_limits(self, customers: set[str], now: datetime) -> None:
        """`entitlement.limit_reached` the first time a feature's usage reaches its limit in
        a window: its id is fixed by customer, feature and window, so it is written once."""
        events = []
        for customer in sorted(customers):
            for answer in self.live.answers(customer, Decimal(0)):
                if answer["limit"] is None or Decimal(answer["usage"]) < Decimal(answer["limit"]):
                    continue
                event_id = stable_event_id(customer, answer["feature"], answer["period_start"])
                if event_id in self._limits_announced:
                    continue
                self._limits_announced.add(event_id)
                data = {k: answer[k] for k in ("customer_id", "feature", "enforcement", "limit",
                                               "usage", "period_start", "period_end")}  # fmt: skip
                events.append(OutboxEvent(event_id, "entitlement.limit_reached", now, data))
        publish(self.client(), self.database, events)


_NO_RULE = AlertRule("", "", "feature", "", ())
