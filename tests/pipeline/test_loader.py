"""Loading event files inside ClickHouse: quarantine, first-copy-wins, conflicts, exactness.

These drive the loader directly against the real warehouse (no Dagster), so each case is
fast; the CLI tests cover the same loader through the Dagster job.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from pathlib import Path

import pytest

from billing_dagster.catalog.model import Metric
from billing_dagster.ingest.loader import HASH_OF_COLUMNS, EventLoader, content_hash_sql
from tests.catalogs import catalog_of, store

DAY = date(2026, 11, 1)


def event(key, **fields) -> str:
    """One event line; any field may be overridden, `key` becomes the event_id."""
    base = {
        "event_id": key,
        "customer_id": "acme",
        "event_name": "call",
        "timestamp": "2026-10-10T10:00:00Z",
    }
    return json.dumps({**base, **fields})


@pytest.fixture
def loader(client, database, settings):
    store(client, database, catalog_of((Metric("calls", "call", "count"),), {"acme": [(DAY,)]}))
    return EventLoader(client, database, settings.file_path)


def load(loader: EventLoader, tmp_path: Path, lines: list[str], name="events.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return loader.load(path, name, name, DAY, catalog_version=1)


def quarantine(client, database) -> list[tuple[int, str]]:
    return client.query(
        f"SELECT line_no, reason FROM `{database}`.quarantined_events ORDER BY line_no"
    ).result_rows


BAD_LINES = [
    ("not json", "line is not valid JSON"),
    ("[1, 2]", "line is not a JSON object"),
    (
        json.dumps(
            {"customer_id": "acme", "event_name": "call", "timestamp": "2026-10-10T10:00:00Z"}
        ),
        'missing required field "event_id"',
    ),
    (event(7), 'field "event_id" must be a string, got a number'),
    (event(""), 'field "event_id" must not be empty'),
    (event("e" * 257), 'field "event_id" must be at most 256 characters'),
    (
        json.dumps({"event_id": "a", "event_name": "call", "timestamp": "2026-10-10T10:00:00Z"}),
        'missing required field "customer_id"',
    ),
    (event("b", customer_id=None), 'field "customer_id" must be a string, got null'),
    (event("c", event_name=["call"]), 'field "event_name" must be a string, got an array'),
    (
        json.dumps({"event_id": "d", "customer_id": "acme", "event_name": "call"}),
        'missing required field "timestamp"',
    ),
    (event("e", timestamp=1760000000), 'field "timestamp" must be a string, got a number'),
    (
        event("f", timestamp="2026-10-10T10:00:00"),
        'field "timestamp" is not an RFC 3339 timestamp with an offset or Z: "2026-10-10T10:00:00"',
    ),
    (
        event("g", timestamp="2026-02-30T10:00:00Z"),
        'field "timestamp" is not an RFC 3339 timestamp with an offset or Z: '
        '"2026-02-30T10:00:00Z"',
    ),
    (
        event("h", timestamp="2019-12-31T23:59:59Z"),
        'field "timestamp" is before 2020-01-01, the first metering day: "2019-12-31T23:59:59Z"',
    ),
    (event("i", properties=[1]), 'field "properties" must be an object, got an array'),
    (
        event("j", properties={"tier": {"a": 1}}),
        'property "tier" must be a string, number or bool, got object',
    ),
    (
        event("k", properties={"tier": None}),
        'property "tier" must be a string, number or bool, got null',
    ),
    (event("l", source=5), 'field "source" must be a string, got a number'),
    (event("m", replaces=True), 'field "replaces" must be a string, got a bool'),
    (
        event("n", replaces="n"),
        'field "replaces" names the event itself; it must name an earlier event',
    ),
    (event("o", void="yes"), 'field "void" must be true or false, got a string'),
    (event("p", customer_id="hooli"), 'unknown customer_id "hooli": not a customer in the catalog'),
    # Issue 13: repeated keys, numbers beyond a double, leap seconds, sizes.
    (
        event("q")[:-1] + ', "customer_id": "other"}',
        'field "customer_id" appears more than once; send each field once',
    ),
    (
        event("r", properties={"n": 1})[:-2] + ', "n": 2}}',
        'property "n" appears more than once; send each property once',
    ),
    (
        event("s", properties={"n": 1})[:-3] + "1e400}}",
        "the number 1e400 is beyond what can be read (about ±1.8e308); send it as a string",
    ),
    (
        event("s2", properties={"n": 1})[:-3] + "-1e1000000}}",
        "the number -1e1000000 is beyond what can be read (about ±1.8e308); send it as a string",
    ),
    (
        event("t", timestamp="2016-12-31T23:59:60Z"),
        'field "timestamp" is a leap second ("2016-12-31T23:59:60Z"), which UTC timestamps '
        "here do not have: send :59.999 of that minute",
    ),
    (
        event("u", properties={"blob": "x" * (64 << 10)}),
        'property "blob" is longer than 65536 bytes, the limit for one property',
    ),
    (
        event("v", properties={"blob": "x" * (1 << 20)}),
        "line is 1048703 bytes long; an event may be at most 1048576 bytes (its first 65536 "
        "bytes are kept here)",
    ),
    (
        event("w", replaces="not-yet"),
        'field "replaces" names event "not-yet" of customer "acme", which was not ingested '
        "before this event; send a correction after the event it corrects",
    ),
]


def test_every_kind_of_bad_line_is_quarantined_with_its_reason(loader, client, database, tmp_path):
    lines = [line for line, _ in BAD_LINES]
    result = load(loader, tmp_path, [*lines, "", "   ", event("good")])
    assert (result.accepted, result.duplicates, result.quarantined) == (1, 0, len(BAD_LINES))
    assert quarantine(client, database) == [
        (number, reason) for number, (_, reason) in enumerate(BAD_LINES, start=1)
    ]
    raw = client.query(
        f"SELECT raw_line FROM `{database}`.quarantined_events WHERE line_no = 1"
    ).result_rows
    assert raw == [("not json",)]
    kept = client.command(
        f"SELECT length(raw_line) FROM `{database}`.quarantined_events "
        f"WHERE line_no = {len(BAD_LINES) - 1}"
    )
    assert kept == 65536


def test_first_copy_wins_within_a_file_and_across_loads(loader, client, database, tmp_path):
    first = load(loader, tmp_path, [event("a"), event("b"), event("a")], "one.jsonl")
    second = load(loader, tmp_path, [event("b"), event("c")], "two.jsonl")
    assert (first.accepted, first.duplicates, first.conflicts) == (2, 1, 0)
    assert (second.accepted, second.duplicates, second.conflicts) == (1, 1, 0)
    rows = client.query(
        f"SELECT event_id, load_seq, line_no FROM `{database}`.raw_events ORDER BY event_id"
    ).result_rows
    assert rows == [("a", 1, 1), ("b", 1, 2), ("c", 2, 2)]


def test_a_copy_with_other_content_is_a_recorded_conflict(loader, client, database, tmp_path):
    load(loader, tmp_path, [event("a", properties={"n": 1})], "one.jsonl")
    result = load(
        loader,
        tmp_path,
        [event("a", properties={"n": 2}), event("a", properties={"n": 1})],
        "two.jsonl",
    )
    assert (result.accepted, result.duplicates, result.conflicts) == (0, 2, 1)
    rows = client.query(
        f"SELECT line_no, is_conflict, first_load_seq, first_line_no "
        f"FROM `{database}`.event_duplicates ORDER BY line_no"
    ).result_rows
    assert rows == [(1, True, 1, 1), (2, False, 1, 1)]
    assert client.query(f"SELECT properties FROM `{database}`.raw_events").result_rows == [
        ({"n": "1"},)
    ]


def test_copies_compare_with_first_copies_stored_with_their_hash(
    loader, client, database, tmp_path
):
    """Loads store the hash of an event's columns as HASH_OF_COLUMNS and compute it when a
    copy arrives; earlier versions stored it computed. Copies compare the same either way."""
    plain = event("a", properties={"n": 1})
    long = event("b", properties={"n": 1}).replace('"n": 1', '"n": 0.12345678901234567891')
    load(loader, tmp_path, [plain, long], "one.jsonl")
    stored = dict(
        client.query(
            f"SELECT event_id, content_hash = {HASH_OF_COLUMNS} FROM `{database}`.raw_events"
        ).result_rows
    )
    assert stored == {"a": True, "b": False}  # the long number's hash covers the line
    copies = [plain, event("a", properties={"n": 2})]
    copies += [long, long.replace("891", "892")]  # the same double, another number
    result = load(loader, tmp_path, copies, "two.jsonl")
    assert (result.accepted, result.duplicates, result.conflicts) == (0, 4, 2)
    client.command(
        f"ALTER TABLE `{database}`.raw_events UPDATE content_hash = {content_hash_sql()} "
        f"WHERE event_id = 'a'",
        settings={"mutations_sync": 2},
    )
    result = load(loader, tmp_path, copies, "three.jsonl")
    assert (result.accepted, result.duplicates, result.conflicts) == (0, 4, 2)
    rows = client.query(
        f"SELECT load_seq, line_no, is_conflict FROM `{database}`.event_duplicates "
        f"ORDER BY load_seq, line_no"
    ).result_rows
    assert [row[2] for row in rows] == [False, True, False, True] * 2


def test_property_values_keep_their_exact_text(loader, client, database, tmp_path):
    text = (
        '{"event_id": "x", "customer_id": "acme", "event_name": "call", '
        '"timestamp": "2026-10-10t10:00:00.123456+02:00", "properties": {"small": 0.1, '
        '"long": 0.1234567890123456789, "big": 123456789012345678901234, "exp": 1e3, '
        '"zeros": 2.50, "flag": false, "text": "caf\\u00e9 \\"q\\""}}'
    )
    result = load(loader, tmp_path, [text])
    assert result.accepted == 1
    properties, timestamp = client.query(
        f"SELECT properties, timestamp FROM `{database}`.raw_events"
    ).result_rows[0]
    assert properties == {
        "small": "0.1",
        "long": "0.1234567890123456789",
        "big": "123456789012345678901234",
        "exp": "1000",
        "zeros": "2.5",
        "flag": "false",
        "text": 'café "q"',
    }
    assert timestamp == datetime(2026, 10, 10, 8, 0, 0, 123000)  # UTC, millisecond precision


def test_corrections_are_stored_and_name_the_days_they_change(loader, client, database, tmp_path):
    load(loader, tmp_path, [event("a", timestamp="2026-10-03T00:00:00Z")], "one.jsonl")
    result = load(
        loader,
        tmp_path,
        [
            event("b", replaces="a", timestamp="2026-10-05T00:00:00Z"),
            event("c", replaces="b", void=True, timestamp="2026-10-05T00:00:00Z"),
        ],
        "two.jsonl",
    )
    assert result.accepted == 2
    assert result.event_dates == (date(2026, 10, 3), date(2026, 10, 5))


def test_an_unfinished_load_leaves_nothing_visible_and_is_cleaned_up(
    loader, client, database, tmp_path
):
    db = f"`{database}`"
    client.command(f"CREATE TABLE {db}.load_9 (n UInt8) ENGINE = Memory")
    client.command(
        f"INSERT INTO {db}.raw_events (event_id, customer_id, load_seq) VALUES ('ghost', 'acme', 9)"
    )
    assert loader.discard_unfinished_loads() == [9]
    assert client.command(f"SELECT count() FROM {db}.raw_events") == 0
    assert not client.command(f"EXISTS TABLE {db}.load_9")


def originals(client, database) -> list[tuple[str, str | None]]:
    """Each stored event with the original it stands for (None: it is an original)."""
    return client.query(
        f"SELECT event_id, corrects FROM `{database}`.raw_events ORDER BY load_seq, line_no"
    ).result_rows


def test_corrections_stand_for_the_original_they_correct_in_ingestion_order(
    loader, client, database, tmp_path
):
    first = load(
        loader,
        tmp_path,
        [
            event("a"),
            event("b", replaces="a"),  # names an earlier line: stands for a
            event("c", replaces="b"),  # a correction of a correction: stands for a too
            event("d", replaces="z"),  # z comes later: quarantined
            event("z"),
        ],
        "first.jsonl",
    )
    assert (first.accepted, first.quarantined) == (4, 1)
    second = load(loader, tmp_path, [event("e", replaces="a"), event("f", replaces="z")])
    assert (second.accepted, second.quarantined) == (2, 0)
    assert originals(client, database) == [
        ("a", None),
        ("b", "a"),
        ("c", "a"),
        ("z", None),
        ("e", "a"),
        ("f", "z"),
    ]
    # e supersedes b and c: the days of every version of a changed.
    assert second.event_dates == (date(2026, 10, 10),)


def test_a_load_killed_midway_leaves_tables_the_next_load_removes(
    loader, client, database, tmp_path
):
    load(loader, tmp_path, [event("a")], "first.jsonl")
    # What a load killed inside `_store` leaves: its staging table and helpers, and rows.
    for table in ("load_2", "load_2_existing", "load_2_repeated", "load_2_reason"):
        client.command(f"CREATE TABLE `{database}`.{table} (x UInt8) ENGINE = Memory")
    client.command(
        f"INSERT INTO `{database}`.raw_events (event_date, customer_id, event_id, event_name, "
        f"timestamp, load_seq, line_no) VALUES ('2026-10-10', 'acme', 'ghost', 'call', "
        f"'2026-10-10 10:00:00', 2, 1)"
    )
    assert loader.discard_unfinished_loads() == [2]
    result = load(loader, tmp_path, [event("b"), event("ghost")], "second.jsonl")
    assert (result.load_seq, result.accepted) == (2, 2)
    tables = client.query(
        f"SELECT name FROM system.tables WHERE database = '{database}' AND name LIKE 'load%'"
    ).result_rows
    assert tables == []
    # A statement the killed load left running may create its table after the next load
    # committed under the same number: that load's rows stay.
    client.command(f"CREATE TABLE `{database}`.load_2_repeated (x UInt8) ENGINE = Memory")
    assert loader.discard_unfinished_loads() == []
    assert client.command(f"SELECT count() FROM `{database}`.raw_events WHERE load_seq = 2") == 2


#: Half of a gzip stream: the deflate data stops in the middle.
TRUNCATED_GZIP = (lambda data: data[: len(data) // 2])(gzip.compress(b'{"x":1}\n' * 1000))


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"plain text, not gzip\n", "the file cannot be read: inflate failed: data error"),
        (TRUNCATED_GZIP, "the file cannot be read: inflate failed: buffer error"),
    ],
    ids=["not gzip", "truncated"],
)
def test_a_corrupt_gzip_file_is_quarantined_whole(
    loader, client, database, tmp_path, content, reason
):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(content)
    result = loader.load(path, "x", "events.jsonl.gz", DAY, catalog_version=1)
    assert (result.lines, result.accepted, result.quarantined) == (0, 0, 1)
    [(line_no, text)] = quarantine(client, database)
    assert line_no == 0 and text.startswith(reason), text
    # The next file of the day loads.
    assert load(loader, tmp_path, [event("a")]).accepted == 1
