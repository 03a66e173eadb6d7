"""The refund rule: never more in all than was paid, whatever the sequence of requests."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dagster.invoicing.refunds import RefundRefused, check_refund, parse_amount

cents = st.integers(min_value=1, max_value=20_000).map(lambda c: Decimal(c).scaleb(-2))


@settings(max_examples=300, deadline=None)
@given(paid=cents, corrections=st.lists(cents, max_size=2), requests=st.lists(cents, max_size=12))
def test_refunds_never_exceed_what_was_paid(paid, corrections, requests):
    """Refunds are accepted while they fit, refused once they would not, and in all never
    exceed what was paid less the corrections' credit notes."""
    accepted: list[Decimal] = []
    for amount in requests:
        so_far = sum(corrections + accepted, Decimal(0))
        try:
            check_refund("INV-1", "USD", paid, corrections + accepted, amount)
        except RefundRefused:
            assert so_far + amount > paid
            continue
        accepted.append(amount)
    assert sum(accepted, Decimal(0)) <= max(paid - sum(corrections, Decimal(0)), Decimal(0))


def test_the_refusal_says_how_much_is_left():
    with pytest.raises(RefundRefused) as refused:
        check_refund("INV-1", "USD", Decimal("100.00"), [Decimal("30.00")], Decimal("70.01"))
    assert str(refused.value) == (
        "invoice INV-1 was paid 100.00 USD and 30.00 of it is already credited or refunded: "
        "at most 70.00 can be refunded"
    )


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("-5", "USD", "--amount '-5': expected a positive amount such as 30.00"),
        ("0", "USD", "--amount '0': expected a positive amount such as 30.00"),
        ("abc", "USD", "--amount 'abc': expected a positive amount such as 30.00"),
        ("NaN", "USD", "--amount 'NaN': expected a positive amount such as 30.00"),
        ("1.005", "USD", "--amount 1.005: USD amounts have 2 decimals at most"),
        ("10.5", "JPY", "--amount 10.5: JPY amounts have 0 decimals at most"),
    ],
)
def test_amounts_are_positive_and_in_minor_units(text, currency, message):
    with pytest.raises(RefundRefused) as refused:
        parse_amount(text, currency)
    assert str(refused.value) == message


def test_an_amount_keeps_its_decimals():
    assert parse_amount("30.00", "USD") == Decimal("30.00")
    assert parse_amount("1500", "JPY") == Decimal(1500)
