"""An evaluation killed at either write (the outbox event, then the transition) loses
nothing and repeats nothing when run again: the same transition is decided, with the same
event id, which the outbox holds once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_dagster.alerts.store import read_history, record
from billing_dagster.alerts.transitions import Figure, Watch, exact_transitions
from billing_dagster.catalog.model import AlertRule, Threshold

START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
RULES = {"r": AlertRule("r", "*", "feature", "calls", (Threshold(Decimal(50), True),))}
FIGURES = {Watch("r", "acme", "calls", START): Figure(Decimal(60), Decimal(100), END)}


def decide(client, database):
    return lambda: exact_transitions(RULES, FIGURES, read_history(client, database))


class Killed(BaseException):
    """What a SIGKILL at that line leaves: nothing after it runs."""


@pytest.mark.parametrize("killed_at", ["webhook_events", "alert_transitions"])
def test_killed_at_either_write_loses_and_repeats_nothing(client, database, home, killed_at):
    insert = client.insert

    def dies_there(table, *args, **kwargs):
        if table.endswith(f".{killed_at}"):
            raise Killed
        return insert(table, *args, **kwargs)

    client.insert = dies_there
    with pytest.raises(Killed):
        record(client, database, home, RULES, decide(client, database))
    client.insert = insert
    (transition,) = record(client, database, home, RULES, decide(client, database))
    assert transition.kind == "triggered"
    assert record(client, database, home, RULES, decide(client, database)) == []
    counts = client.query(
        f"SELECT (SELECT count() FROM `{database}`.webhook_events), "
        f"(SELECT count() FROM `{database}`.alert_transitions)"
    ).result_rows
    assert counts == [(1, 1)]
