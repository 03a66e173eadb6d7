"""Request bodies of the event API, cut into one JSON text per event without changing a
byte of any event: numbers keep every digit and a field sent twice stays twice, so the
loader's checks see exactly what the client sent (ingest/receiving.py)."""

from __future__ import annotations

import json

MAX_BATCH_EVENTS = 1000
MAX_BODY_BYTES = 5 << 20
_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


class BadBody(ValueError):
    """A body that cannot be read as events: 400, or 413 when over a limit."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_content_type(content_type: str) -> None:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = f'"{media_type}"' if media_type else "none"
        raise BadBody(400, f"content type is {shown}; send the events as application/json")


def too_large() -> BadBody:
    return BadBody(
        413,
        f"the body is over {MAX_BODY_BYTES} bytes (5 MiB), the limit of one request; "
        f"send at most {MAX_BATCH_EVENTS} events per batch and split larger ones",
    )


def one_event(body: bytes) -> str:
    """The event of `POST /v1/events`: any single JSON value (the loader's checks say what
    is wrong with one that is not an event)."""
    text = _text(body)
    start = _skip(text, 0)
    end = _value(text, start)
    if _skip(text, end) != len(text):
        raise _malformed(text, _skip(text, end), "extra data after the event")
    return _line(text[start:end])


def batch_of_events(body: bytes) -> list[str]:
    """The events of `POST /v1/events/batch`: `{"events": [event, ...]}`."""
    text = _text(body)
    position = _expect(text, _skip(text, 0), "{", 'a batch: {"events": [...]}')
    position = _skip(text, position)
    key_end = _value(text, position)
    if json.loads(text[position:key_end]) != "events":
        raise _malformed(text, position, 'expected the field "events", the only one of a batch')
    position = _expect(text, _skip(text, key_end), ":", '":"')
    position = _expect(text, _skip(text, position), "[", 'the list of events: "events": [...]')
    events: list[str] = []
    position = _skip(text, position)
    if text.startswith("]", position):
        position += 1
    else:
        while True:
            if len(events) == MAX_BATCH_EVENTS:
                raise BadBody(
                    413,
                    f"the batch has more than {MAX_BATCH_EVENTS} events, the limit of one "
                    f"request; split it",
                )
            end = _value(text, position)
            events.append(_line(text[position:end]))
            position = _skip(text, end)
            if text.startswith("]", position):
                position += 1
                break
            position = _skip(text, _expect(text, position, ",", '"," or "]"'))
    position = _expect(text, _skip(text, position), "}", '"}" after the list of events')
    if _skip(text, position) != len(text):
        raise _malformed(text, _skip(text, position), "extra data after the batch")
    if not events:
        raise BadBody(400, 'the batch has no events; send {"events": [event, ...]}')
    return events


def _text(body: bytes) -> str:
    if not body.strip():
        raise BadBody(400, "the body is empty; send the events as JSON")
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadBody(400, f"the body is not UTF-8 text (byte {error.start})") from None


def _value(text: str, position: int) -> int:
    try:
        return _DECODER.raw_decode(text, position)[1]
    except json.JSONDecodeError as error:
        raise _malformed(text, error.pos, error.msg) from None
    except RecursionError:
        raise _malformed(text, position, "nested too deeply") from None


def _expect(text: str, position: int, token: str, what: str) -> int:
    if not text.startswith(token, position):
        raise _malformed(text, position, f"expected {what}")
    return position + 1


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _line(event: str) -> str:
    """One line of JSONL: JSON has no raw line breaks inside strings, so the ones between
    tokens can become spaces."""
    return event.replace("\r", " ").replace("\n", " ")


def _malformed(text: str, position: int, message: str) -> BadBody:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return BadBody(400, f"malformed JSON at line {line}, column {column}: {message}")
