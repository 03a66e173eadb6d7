"""Numbers are written exactly, whatever their number of digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_dagster.formatting import decimal_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.300", "0.3"),
        ("-0.000", "0"),
        ("1E+2", "100"),
        # 30 significant digits: more than the default context's 28, which would round.
        ("141460904076646094.227109040625", "141460904076646094.227109040625"),
        ("-99999999999999999999999999.999999999999", "-99999999999999999999999999.999999999999"),
    ],
)
def test_decimal_text_keeps_every_digit(value, text):
    assert decimal_text(Decimal(value)) == text
