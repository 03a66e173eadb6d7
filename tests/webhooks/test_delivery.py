"""Webhook delivery against a real HTTP receiver that fails with 500, hangs past the
timeout and drops connections: every event arrives, signed, and once after dedup on its
id; a receiver down for two (simulated) hours gets everything when it returns; after 24
hours of failures a delivery stops until it is replayed. The clock is simulated (the
deliverer takes `now`); the warehouse and HTTP are real."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from billing_dagster.webhooks import delivery
from billing_dagster.webhooks.delivery import (
    deliver_due,
    deliveries,
    delivery_status,
    request_replay,
)
from billing_dagster.webhooks.endpoints import add_endpoint
from billing_dagster.webhooks.outbox import OutboxEvent, publish
from tests.webhooks.receiver import Receiver

SECRET = "whsec_test_secret"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # before any replay requested now


def events(prefix: str, count: int) -> list[OutboxEvent]:
    return [
        OutboxEvent(
            f"evt_{prefix}{n}",
            "alert.triggered",
            datetime.now(UTC),  # after the endpoint: it receives events made since it exists
            {"customer_id": f'cust "{n}" \\ ,;', "threshold": "80%", "figure": "800.5"},
        )
        for n in range(count)
    ]


@pytest.fixture
def receiver(request):
    script = getattr(request, "param", [])
    server = Receiver(SECRET, script)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setattr(delivery, "TIMEOUT_S", 0.5)


def deliver_until_done(client, database, home, now, step=timedelta(seconds=30), rounds=400):
    """Rounds of delivery, the clock moving `step` each, until nothing is owed; the time."""
    for _ in range(rounds):
        deliver_due(client, database, home, now=now)
        if all(d.delivered for d in deliveries(client, database)):
            return now
        now += step
    raise AssertionError("deliveries still owed after the last round")


@pytest.mark.parametrize(
    "receiver", [["500", "hang", "drop", "500", "drop", "hang", "500"]], indirect=True
)
def test_every_event_arrives_signed_and_once_after_dedup(client, database, home, receiver):
    add_endpoint(client, database, home, receiver.url, ["alert.triggered"], secret=SECRET)
    sent = events("a", 5)
    assert publish(client, database, sent) == 5
    assert publish(client, database, sent) == 0  # the outbox holds each id once
    deliver_until_done(client, database, home, T0)
    assert receiver.unique() == {e.event_id for e in sent}
    assert receiver.bad_signatures == 0
    assert receiver.requests == {"500": 3, "hang": 2, "drop": 2, "ok": 5}
    assert receiver.bodies["evt_a3"]["data"]["customer_id"] == 'cust "3" \\ ,;'
    attempts = client.query(
        f"SELECT countIf(delivered), countIf(NOT delivered) FROM `{database}`.webhook_attempts"
    ).result_rows
    assert attempts == [(5, 7)]
    # Another round delivers nothing again.
    assert deliver_due(client, database, home, now=T0 + timedelta(days=1)).delivered == 0


def test_a_receiver_down_two_hours_gets_everything_when_it_returns(client, database, home):
    receiver = Receiver(SECRET, [])
    port = receiver.server_address[1]
    add_endpoint(client, database, home, receiver.url, ["alert.triggered"], secret=SECRET)
    receiver.stop()  # down: connections are refused
    publish(client, database, events("d", 3))
    now = T0
    while now < T0 + timedelta(hours=2):
        deliver_due(client, database, home, now=now)
        now += timedelta(minutes=1)
    failures = {d.event_id: d.failures for d in deliveries(client, database)}
    assert set(failures) == {"evt_d0", "evt_d1", "evt_d2"}
    # 10 s x 2^n (jitter 0.5..1), capped at an hour: between 7 and 11 attempts in 2 hours.
    assert all(7 <= n <= 11 for n in failures.values()), failures
    back = Receiver(SECRET, [], port=port)
    try:
        deliver_until_done(client, database, home, now, step=timedelta(minutes=1))
        assert sorted(back.seen) == ["evt_d0", "evt_d1", "evt_d2"]
    finally:
        back.stop()


def test_after_24_hours_a_delivery_stops_until_replayed(client, database, home):
    receiver = Receiver(SECRET, [])
    port = receiver.server_address[1]
    add_endpoint(client, database, home, receiver.url, ["alert.triggered"], secret=SECRET)
    receiver.stop()
    publish(client, database, events("g", 1))
    now = T0
    while now < T0 + timedelta(hours=25):
        deliver_due(client, database, home, now=now)
        now += timedelta(minutes=10)
    (owed,) = deliveries(client, database)
    assert owed.given_up(now) and not owed.delivered
    (shown,) = delivery_status(client, database, now)  # what `billing status` lists
    assert (shown["event_id"], shown["state"], shown["next_attempt"]) == ("evt_g0", "failed", None)
    back = Receiver(SECRET, [], port=port)
    try:
        assert deliver_due(client, database, home, now=now).delivered == 0
        with pytest.raises(LookupError) as unknown:
            request_replay(client, database, "evt_nope")
        assert str(unknown.value) == (
            "no webhook event 'evt_nope'; event ids are in the `id` of the payloads endpoints "
            "received, and in `billing alerts --format json` for alerts"
        )
        assert request_replay(client, database, "evt_g0") == [owed.endpoint.endpoint_id]
        assert deliver_due(client, database, home, now=datetime.now(UTC)).delivered == 1
        assert back.seen == ["evt_g0"]
    finally:
        back.stop()


def test_two_deliverers_at_once_post_each_event_once(client, settings, database, home):
    receiver = Receiver(SECRET, [])
    try:
        add_endpoint(client, database, home, receiver.url, ["alert.triggered"], secret=SECRET)
        publish(client, database, events("p", 20))
        with ThreadPoolExecutor(2) as pool:
            # A client of its own per thread: one HTTP session runs one query at a time.
            deliver = lambda _: deliver_due(settings.client(), database, home)  # noqa: E731
            rounds = list(pool.map(deliver, range(2)))
        assert sum(r.delivered for r in rounds) == 20
        assert sorted(receiver.seen) == sorted(f"evt_p{n}" for n in range(20))
    finally:
        receiver.stop()
