"""Cutting request bodies into events: every event's bytes kept as sent, and the exact
message for each body that is not a batch of events."""

from __future__ import annotations

import pytest

from billing_dagster.api.bodies import BadBody, batch_of_events, check_content_type, one_event


def test_events_keep_their_text_digits_and_repeated_fields():
    body = b'{ "events" : [ {"a": 12345678901234567890.5},\n{"b": 1, "b": 2}, 5, "x"\r\n ] }'
    assert batch_of_events(body) == [
        '{"a": 12345678901234567890.5}',
        '{"b": 1, "b": 2}',
        "5",
        '"x"',
    ]
    assert batch_of_events(b'{"\\u0065vents": [{"p": "a\\nb"}]}') == ['{"p": "a\\nb"}']


def test_a_pretty_printed_event_becomes_one_line():
    assert one_event(b'{\n  "event_id": "e\\"1",\r\n  "n": 1\n}\n') == (
        '{   "event_id": "e\\"1",    "n": 1 }'
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "the body is empty; send the events as JSON"),
        (b'{"events": [1,]}', 400, "malformed JSON at line 1, column 15: Expecting value"),
        (b'{"event": [1]}', 400,
         'malformed JSON at line 1, column 2: expected the field "events", the only one of a '
         "batch"),
        (b'[{"a": 1}]', 400, 'malformed JSON at line 1, column 1: expected a batch: '
         '{"events": [...]}'),
        (b'{"events": [1], "more": 2}', 400,
         'malformed JSON at line 1, column 15: expected "}" after the list of events'),
        (b'{"events": [1]}\n[', 400,
         "malformed JSON at line 2, column 1: extra data after the batch"),
        (b'{"events": [1 2]}', 400, 'malformed JSON at line 1, column 15: expected "," or "]"'),
        (b'{"events": ["\xff"]}', 400, "the body is not UTF-8 text (byte 13)"),
        (b'{"events": []}', 400, 'the batch has no events; send {"events": [event, ...]}'),
        (b'{"events": [' + b"1," * 1000 + b"1]}", 413,
         "the batch has more than 1000 events, the limit of one request; split it"),
    ],
)  # fmt: skip
def test_bodies_that_are_not_a_batch(body, status, message):
    with pytest.raises(BadBody) as refused:
        batch_of_events(body)
    assert (refused.value.status, str(refused.value)) == (status, message)


def test_content_types():
    check_content_type("application/json; charset=utf-8")
    for content_type, shown in [("text/plain", '"text/plain"'), ("", "none")]:
        with pytest.raises(BadBody) as refused:
            check_content_type(content_type)
        assert str(refused.value) == (
            f"content type is {shown}; send the events as application/json"
        )
