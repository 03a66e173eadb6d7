"""The loader's typed fast path against its exact path: the same hostile files, loaded once
by each into a database of its own, must leave identical tables (events, duplicates,
quarantine with reasons and line numbers, the ledger's counts)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import date
from pathlib import Path

import pytest

from billing_dagster.catalog.model import Metric
from billing_dagster.ingest.loader import UNPROVEN, EventLoader, fast_lines_sql
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema
from tests.catalogs import catalog_of, store

DAY = date(2026, 11, 1)
CATALOG = catalog_of((Metric("calls", "call", "count"),), {"acme": [(DAY,)], "globex": [(DAY,)]})
BASE = '"customer_id":"acme","event_name":"call","timestamp":"2026-10-10T10:00:00Z"'


def plain(key: str, extra: str = "") -> str:
    """A compact valid line, as most producers write them; `extra` adds fields."""
    return f'{{"event_id":"{key}",{BASE}{extra}}}'


#: Lines the fast path proves valid: no escapes, every field once with its type.
PROVABLE = [
    plain("p1"),
    plain("p2", ',"properties":{"status":"200","tokens":42,"ok":true,"rate":2.50}'),
    plain("p3", ',"source":"sdk","properties":{"user":"u1"}'),
    plain("p4", ',"properties":{"name":"café ☃ 😀"}'),
    json.dumps(
        {
            "event_id": "p5",
            "customer_id": "globex",
            "event_name": "call",
            "timestamp": "2026-10-10T12:00:00.5+05:30",
            "properties": {"n": -0.0},
        }
    ),
    plain("p6", ',"replaces":"p1"'),
    plain("p7", ',"replaces":"p2","void":true'),
    plain("p8", ',"void":false,"properties":{"tokens":99999999999999}'),
    plain("p1"),  # an exact resend
    plain("p2", ',"properties":{"status":"201"}'),  # a conflicting resend
    "   " + plain("lead") + "  ",  # spacing: valid JSON, read alike
    json.dumps(
        {
            "event_id": "spaced",
            "customer_id": "acme",
            "event_name": "call",
            "timestamp": "2026-10-10T10:00:00Z",
            "properties": {"a": "b"},
        }
    ),
]

#: Lines the fast path must leave to the exact path, valid or not.
HOSTILE = [
    # escapes, in values and in keys
    plain('q\\"uote'),
    plain("back\\\\slash", ',"properties":{"path":"C:\\\\x"}'),
    plain("\\u0070\\u0031"),  # "p1" written with escapes: a duplicate of p1
    plain("p9", ',"properties":{"t\\u00e9":"\\ud83d\\ude00","nl":"a\\nb"}'),
    '{"event\\u005fid":"esc-key",' + BASE + "}",
    plain("lone-surrogate", ',"properties":{"s":"\\ud800"}'),
    # repeated keys
    plain("dup1")[:-1] + ',"event_id":"dup1"}',
    plain("dup2")[:-1] + ',"customer_id":"globex"}',
    plain("dup3", ',"properties":{"a":"1","a":"2"}'),
    plain("dup4", ',"properties":{"a":"1"},"properties":{"b":"2"}'),
    # numbers as strings, strings as numbers, bools, nulls, arrays, objects
    plain("ns1", ',"properties":{"tokens":"5"}'),
    '{"event_id":7,' + BASE + "}",
    '{"event_id":"cid","customer_id":12,"event_name":"call","timestamp":"2026-10-10T10:00:00Z"}',
    '{"event_id":"ts","customer_id":"acme","event_name":"call","timestamp":1760000000}',
    '{"event_id":"tsd","customer_id":"acme","event_name":"call","timestamp":"1760000000"}',
    plain("v1", ',"void":"true"'),
    plain("v2", ',"void":1'),
    plain("v3", ',"void":null'),
    plain("s1", ',"source":5'),
    plain("s2", ',"source":null'),
    plain("s3", ',"source":{"a":"b"}'),
    plain("r1", ',"replaces":true'),
    plain("r2", ',"replaces":null'),
    plain("r3", ',"replaces":""'),
    plain("r4", ',"replaces":"r4"'),
    plain("r5", ',"replaces":"not-yet"'),
    '{"event_id":null,' + BASE + "}",
    '{"event_id":{"a":1},' + BASE + "}",
    '{"event_id":["x"],' + BASE + "}",
    '{"event_id":"name-num","customer_id":"acme","event_name":1,"timestamp":"2026-10-10T10:00:00Z"}',
    plain("o1", ',"properties":{"tier":{"a":1}}'),
    plain("o2", ',"properties":{"tier":[1]}'),
    plain("o3", ',"properties":{"tier":null}'),
    plain("o4", ',"properties":"tier"'),
    plain("o5", ',"properties":[]'),
    plain("o6", ',"properties":{}'),
    plain("o7", ',"properties":null'),
    plain("o8", ',"properties":{"":"empty key"}'),
    # numbers: long, exponents, beyond a double
    plain("n1", ',"properties":{"big":12345678901234567890}'),
    plain("n2", ',"properties":{"e":1e3,"f":2.5E-3}'),
    plain("n3", ',"properties":{"x":1e400}'),
    plain("n4", ',"properties":{"x":0.1000000000000000055511151231257827}'),
    # fields: missing, empty, unknown, too long
    '{"customer_id":"acme","event_name":"call","timestamp":"2026-10-10T10:00:00Z"}',
    '{"event_id":"m1","event_name":"call","timestamp":"2026-10-10T10:00:00Z"}',
    '{"event_id":"m2","customer_id":"acme","timestamp":"2026-10-10T10:00:00Z"}',
    '{"event_id":"m3","customer_id":"acme","event_name":"call"}',
    plain(""),
    plain("e" * 256),
    plain("e" * 257),
    '{"event_id":"em","customer_id":"acme","event_name":"","timestamp":"2026-10-10T10:00:00Z"}',
    plain("u1", ',"extra":"field"'),
    plain("u2", ',"nested":{"a":{"b":[1,2]}}'),
    '{"event_id":"hooli","customer_id":"hooli","event_name":"call","timestamp":"2026-10-10T10:00:00Z"}',
    '{"event_id":"nocust","customer_id":"","event_name":"call","timestamp":"2026-10-10T10:00:00Z"}',
    plain("big-prop", ',"properties":{"blob":"' + "x" * (64 << 10) + '"}'),
    plain("huge-line", ',"properties":{"blob":"' + "x" * (1 << 20) + '"}'),
    # timestamps
    plain("t1").replace("2026-10-10T10:00:00Z", "2026-10-10t10:00:00z"),
    plain("t2").replace("2026-10-10T10:00:00Z", "2026-10-10 10:00:00.123456-07:00"),
    plain("t3").replace("2026-10-10T10:00:00Z", "2026-10-10T10:00:00"),
    plain("t4").replace("2026-10-10T10:00:00Z", "2016-12-31T23:59:60Z"),
    plain("t5").replace("2026-10-10T10:00:00Z", "2019-12-31T23:59:59Z"),
    plain("t6").replace("2026-10-10T10:00:00Z", "2099-01-01T00:00:00Z"),
    plain("t7").replace("2026-10-10T10:00:00Z", "2026-02-30T10:00:00Z"),
    plain("t8").replace("2026-10-10T10:00:00Z", "October 10, 2026"),
    # not an event
    "not json",
    "[1, 2]",
    "[]",
    "{}",
    "null",
    '"a string"',
    plain("trailing") + " x",
    plain("two") + plain("objects"),
    '{"event_id":"tab\there",' + BASE + "}",
]

#: Raw bytes: CRLF endings, bad UTF-8, blank and whitespace-only lines.
RAW_LINES = [
    plain("crlf1").encode() + b"\r",
    b"",
    b"   ",
    b"\r",
    plain("bad-utf8", ',"properties":{"b":"\xff\xfe"}').encode("latin-1"),
    b'{"event_id":"bad\xc3\x28",' + BASE.encode() + b"}",
    plain("crlf2", ',"properties":{"a":"b"}').encode() + b"\r",
]


def write(path: Path, lines: list[str], raw: list[bytes] = ()) -> Path:
    body = b"\n".join([line.encode() for line in lines] + list(raw)) + b"\n"
    path.write_bytes(body)
    return path


TABLES = {
    "raw_events": "SELECT * FROM {db}.raw_events ORDER BY load_seq, line_no",
    "event_duplicates": "SELECT * FROM {db}.event_duplicates ORDER BY load_seq, line_no",
    "quarantined_events": "SELECT * EXCEPT (quarantined_at) FROM {db}.quarantined_events "
    "ORDER BY load_seq, line_no",
    "event_loads": "SELECT * EXCEPT (loaded_at) FROM {db}.event_loads ORDER BY load_seq",
}


@pytest.fixture
def exact_database(warehouse, client):
    """A second database beside the test's own, for the exact path's load."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    exact_client = ClickHouseSettings.embedded(warehouse, name).client()
    ensure_schema(exact_client, name)
    yield name, exact_client
    exact_client.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


def tables(client, database: str) -> dict[str, list[tuple]]:
    return {
        table: client.query(sql.format(db=f"`{database}`")).result_rows
        for table, sql in TABLES.items()
    }


def load_both_ways(client, database, exact_database, warehouse, files: list[Path]) -> list:
    """Load `files` through the fast path into `database` and through the exact path into
    the other; assert every table alike; return the loads' results."""
    exact_name, exact_client = exact_database
    results = {}
    for name, db_client, fast in ((database, client, True), (exact_name, exact_client, False)):
        version = store(db_client, name, CATALOG)
        loader = EventLoader(
            db_client, name, ClickHouseSettings.embedded(warehouse, name).file_path, fast
        )
        results[fast] = [
            loader.load(path, path.name, path.name, DAY, catalog_version=version) for path in files
        ]
    assert results[True] == results[False]
    fast_tables, exact_tables = tables(client, database), tables(exact_client, exact_name)
    for table in TABLES:
        assert fast_tables[table] == exact_tables[table], table
    return results[True]


def test_both_paths_leave_identical_tables_on_hostile_files(
    client, database, exact_database, warehouse, tmp_path
):
    files = [
        write(tmp_path / "first.jsonl", PROVABLE + HOSTILE, RAW_LINES),
        # A second load: copies of events stored by the first (one written with escapes,
        # left to the exact path by the fast one) and a correction of a correction.
        write(
            tmp_path / "second.jsonl",
            [
                plain("p3", ',"source":"sdk","properties":{"user":"u1"}'),
                plain("p1", ',"x":1'),
                plain("c1", ',"replaces":"p6"'),
                plain("\\u0070\\u0034"),
                plain("new"),
            ],
        ),
    ]
    results = load_both_ways(client, database, exact_database, warehouse, files)
    counts = [(r.lines, r.accepted, r.duplicates, r.conflicts, r.quarantined) for r in results]
    assert counts == [(90, 31, 3, 1, 56), (5, 2, 3, 1, 0)]


#: Pieces spliced into valid lines to make near-valid ones.
SPLICES = [
    '"',
    "\\",
    "{",
    "}",
    ":",
    ",",
    "1",
    "e",
    "-",
    " ",
    "null",
    "true",
    "[]",
    "\\u00e9",
    '"event_id":"x",',
    '"void":1,',
    '"properties":{},',
    "é",
    "\t",
]


def mutated_lines(count: int, seed: int) -> list[str]:
    """Valid lines with one to three random cuts, splices or swaps: mostly broken in ways
    nobody listed, some still valid."""
    rng = random.Random(seed)
    templates = PROVABLE[:8]
    lines = []
    for _ in range(count):
        line = rng.choice(templates)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(line) + 1)
            edit = rng.random()
            if edit < 0.4:
                line = line[:at] + rng.choice(SPLICES) + line[at:]
            elif edit < 0.7:
                line = line[:at] + line[at + rng.randint(1, 4) :]
            else:
                other = rng.randrange(len(line) + 1)
                line = line[:at] + line[other : other + 3] + line[at:]
        lines.append(line)
    return lines


def test_both_paths_agree_on_randomly_mutated_lines(
    client, database, exact_database, warehouse, tmp_path
):
    """A thousand valid lines with random damage: whatever each line has become, the fast
    path's tables are the exact path's."""
    path = write(tmp_path / "mutated.jsonl", mutated_lines(1000, seed=22))
    [result] = load_both_ways(client, database, exact_database, warehouse, [path])
    assert result.accepted + result.duplicates >= 20 and result.quarantined >= 800


def test_the_fast_path_proves_only_plain_lines(client, database, settings, tmp_path):
    """Every line with anything unusual is left to the exact path; a valid line without
    escapes, repeated, unknown or null fields is proven, whatever its values (a correction
    naming an unknown event is found later, from the stage, on both paths)."""
    version = store(client, database, CATALOG)
    path = write(tmp_path / "events.jsonl", PROVABLE + HOSTILE, RAW_LINES)
    select = fast_lines_sql(f"`{database}`", settings.file_path(path), version, seq=1)
    rows = client.query(
        f"SELECT event_id, reason FROM ({select}) ORDER BY line_no",
        settings={"short_circuit_function_evaluation": "force_enable"},
    ).result_rows
    proven = sorted(event_id for event_id, reason in rows if reason == "")
    plain_valid = ["p1", "p1", "p2", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "lead", "spaced"]
    plain_valid_hostile = ["e" * 256, "n2", "n4", "ns1", "o8", "r5", "t1", "t2"]
    assert proven == sorted([*plain_valid, "crlf1", "crlf2", *plain_valid_hostile])
    assert {reason for _, reason in rows} == {"", UNPROVEN}
