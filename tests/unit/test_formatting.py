"""Numbers are written exactly, whatever their number of digits; JSON is indented as the
standard library indents it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing_dagster.formatting import decimal_text, json_text


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


def test_json_text_writes_what_the_standard_library_writes_with_an_indent():
    invoice = {
        "customer_id": 'a"b\\c,d',
        "lines": [{"amount": "-0.30", "group": None, "prorated": False}, {}],
        "notes": [],
        "count": 3,
    }
    assert json_text(invoice) == json.dumps(invoice, indent=2)
    assert json_text(invoice) == (
        '{\n  "customer_id": "a\\"b\\\\c,d",\n  "lines": [\n    {\n      "amount": "-0.30",\n'
        '      "group": null,\n      "prorated": false\n    },\n    {}\n  ],\n  "notes": [],\n'
        '  "count": 3\n}'
    )


def test_json_text_writes_text_beyond_ascii_as_it_is_and_keys_as_strings():
    assert json_text({"name": "Zoë Ærø 東京", 7: True}) == (
        '{\n  "name": "Zoë Ærø 東京",\n  "7": true\n}'
    )
