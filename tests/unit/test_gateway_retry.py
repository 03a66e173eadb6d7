"""Retries: transient errors retried with bounded, seeded, growing backoff; others at once."""

from __future__ import annotations

import pytest

from billing_dagster.gateways.base import GatewayError, TransientGatewayError, minor_units
from billing_dagster.gateways.retry import RetryPolicy


def failing(times: int, error: Exception):
    calls = []

    def action() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return action, calls


def test_transient_errors_are_retried_with_bounded_jitter():
    waits: list[float] = []
    policy = RetryPolicy(attempts=6, base_seconds=0.5, max_seconds=2, seed=3, sleep=waits.append)
    action, calls = failing(5, TransientGatewayError("503"))
    assert policy.call(action, "creating invoice X") == "done"
    assert len(calls) == 6 and len(waits) == 5
    assert all(0 <= wait <= min(2, 0.5 * 2**n) for n, wait in enumerate(waits))
    again: list[float] = []
    replay = RetryPolicy(attempts=6, base_seconds=0.5, max_seconds=2, seed=3, sleep=again.append)
    replay.call(failing(5, TransientGatewayError("503"))[0], "creating invoice X")
    assert again == waits  # seeded: the same waits every run


def test_retries_are_bounded_and_say_what_failed():
    policy = RetryPolicy(attempts=3, sleep=lambda _: None)
    action, calls = failing(10, TransientGatewayError("rate limited by Stripe (429)"))
    with pytest.raises(TransientGatewayError, match="creating invoice X: still failing after 3"):
        policy.call(action, "creating invoice X")
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    action, calls = failing(1, GatewayError("Stripe answered 400: no such customer"))
    with pytest.raises(GatewayError, match="no such customer"):
        RetryPolicy(sleep=lambda _: None).call(action, "creating invoice X")
    assert len(calls) == 1


def test_minor_units_per_currency():
    assert (
        minor_units("12.34", "USD"),
        minor_units("-0.05", "EUR"),
        minor_units("1851", "JPY"),
    ) == (
        1234,
        -5,
        1851,
    )
    with pytest.raises(GatewayError, match="not a whole number of minor units"):
        minor_units("1.5", "JPY")
