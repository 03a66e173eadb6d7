"""Load one landed event file into the event store, inside ClickHouse.

Valid lines are parsed by the engine, not row by row in Python (DESIGN.md §2). One load is
one file; its steps are:

1. parse every line into a staging table `load_<seq>` with its problem, if any: the fast
   path (one typed parse) stages the lines it proves valid, and the exact path (every field
   read and checked, the first problem named) stages every other line;
2. settle in Python what the SQL cannot, on the few lines concerned (numbers a double
   cannot hold, corrections and the event each stands for): their values go to small Join
   tables beside the stage and are read over the stage's own (`_settled_columns`), never
   written into it (a mutation rewrites every part of the stage: 11 s at 10 M lines);
3. decide first copies: the first line of a key in this file, unless the key is already in
   the store (earlier loads win);
4. insert first copies into `raw_events`, later copies into `event_duplicates` (with a
   conflict flag when their content differs), bad lines into `quarantined_events`;
5. commit by writing the ledger row in `event_loads`, then drop the staging table.

Readers only see rows of committed loads, so a load that dies midway leaves nothing
visible; the next load removes its rows before starting (`discard_unfinished_loads`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from billing_dagster.formatting import decimal_text
from billing_dagster.warehouse.sql_text import quote_string

#: Events before this date cannot be in any metering partition.
FIRST_EVENT_DATE = date(2020, 1, 1)

_TIMESTAMP = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


#: RFC 3339 allows second 60 (a leap second); UTC timestamps here (Unix time) have none.
_LEAP_SECOND = r":60(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
#: Limits of one event: a line, and one property's value (as written in JSON).
MAX_LINE_BYTES = 1 << 20
MAX_PROPERTY_BYTES = 64 << 10
MAX_EVENT_ID_CHARS = 256
#: How much of a line over the limit is kept in quarantine (shorter lines are kept whole).
KEPT_BYTES = 64 << 10


@dataclass(frozen=True)
class LoadResult:
    load_seq: int
    lines: int
    accepted: int
    duplicates: int
    conflicts: int
    quarantined: int
    event_dates: tuple[date, ...]  # metering days whose usage this load changed


def _json_kind(field: str) -> str:
    """SQL naming the JSON kind of a field the way users write JSON: "a number", "null"..."""
    kind = f"JSONType(line, '{field}')"
    return (
        f"multiIf({kind} IN ('Int64', 'UInt64', 'Double'), 'a number', {kind} = 'String', "
        f"'a string', {kind} = 'Bool', 'a bool', {kind} = 'Array', 'an array', "
        f"{kind} = 'Object', 'an object', 'null')"
    )


def _required_string(field: str, max_length: int | None = None) -> str:
    """multiIf branches for a required string field: present, a string, not empty."""
    length_rule = (
        f"lengthUTF8(JSONExtractString(line, '{field}')) > {max_length}, "
        f"'field \"{field}\" must be at most {max_length} characters',"
        if max_length
        else ""
    )
    return f"""
        NOT JSONHas(line, '{field}'), 'missing required field "{field}"',
        JSONType(line, '{field}') != 'String',
            concat('field "{field}" must be a string, got ', {_json_kind(field)}),
        JSONExtractString(line, '{field}') = '', 'field "{field}" must not be empty',
        {length_rule}"""


def _optional(field: str, json_type: str, expected: str) -> str:
    return f"""
        JSONType(line, '{field}') NOT IN ('Null', '{json_type}'),
            concat('field "{field}" must be {expected}, got ', {_json_kind(field)}),"""


_REASON = """multiIf(
        length(line) > {max_line},
            concat('line is ', toString(length(line)), ' bytes long; an event may be at most ',
                   '{max_line} bytes (its first {kept_bytes} bytes are kept here)'),
        NOT isValidJSON(line), 'line is not valid JSON',
        JSONType(line) != 'Object', 'line is not a JSON object',
        length(arrayDistinct(top_keys)) != length(top_keys),
            concat('field "', arrayFirst(k -> countEqual(top_keys, k) > 1, top_keys),
                   '" appears more than once; send each field once'),
        {event_id}
        {customer_id}
        {event_name}
        NOT JSONHas(line, 'timestamp'), 'missing required field "timestamp"',
        JSONType(line, 'timestamp') != 'String',
            concat('field "timestamp" must be a string, got ', {timestamp_kind}),
        match(timestamp_text, {leap_second_pattern}),
            concat('field "timestamp" is a leap second ("', JSONExtractString(line, 'timestamp'),
                   '"), which UTC timestamps here do not have: send :59.999 of that minute'),
        NOT match(timestamp_text, {timestamp_pattern}) OR parsed_timestamp IS NULL,
            concat('field "timestamp" is not an RFC 3339 timestamp with an offset or Z: "',
                   JSONExtractString(line, 'timestamp'), '"'),
        toDate(parsed_timestamp) < {first_date},
            concat('field "timestamp" is before {first_date_text}, the first metering day: "',
                   JSONExtractString(line, 'timestamp'), '"'),
        parsed_timestamp > now64(3, 'UTC') + INTERVAL 1 DAY,
            concat('field "timestamp" is more than a day in the future: "',
                   JSONExtractString(line, 'timestamp'), '"'),
        JSONType(line, 'properties') NOT IN ('Null', 'Object'),
            concat('field "properties" must be an object, got ',
                   {properties_kind}),
        bad_property.1 != '',
            concat('property "', bad_property.1, '" must be a string, number or bool, got ',
                   multiIf(bad_property.2 = 'null', 'null',
                           startsWith(bad_property.2, '['), 'array', 'object')),
        length(arrayDistinct(property_keys)) != length(property_keys),
            concat('property "', arrayFirst(k -> countEqual(property_keys, k) > 1, property_keys),
                   '" appears more than once; send each property once'),
        arrayExists(kv -> length(kv.2) > {max_property}, raw_properties),
            concat('property "', arrayFirst(kv -> length(kv.2) > {max_property}, raw_properties).1,
                   '" is longer than {max_property} bytes, the limit for one property'),
        {source}
        {replaces}
        JSONType(line, 'replaces') = 'String' AND JSONExtractString(line, 'replaces') = '',
            'field "replaces" must not be empty',
        JSONExtractString(line, 'replaces') = JSONExtractString(line, 'event_id'),
            'field "replaces" names the event itself; it must name an earlier event',
        {void}
        NOT known_customer,
            concat('unknown customer_id "', customer, '": not a customer in the catalog'),
        ''
    )"""


# Property values keep their JSON text: strings unescaped, numbers and bools as written.
# The engine's JSON reader re-prints numbers through a double; that is exact for up to 15
# significant digits, so longer numbers (and exponents) are re-read exactly in Python.
def content_hash_sql(properties: str = "properties", exact_text: str = "''") -> str:
    """What two copies of one event compare: its content, with `properties` (an
    expression), and `exact_text`, the line where its numbers need their written text. An
    erasure recomputes it over the erased properties (erasure/events.py)."""
    return (
        f"sipHash128(event_name, timestamp, mapSort({properties}), isNull(source), "
        f"ifNull(source, ''), isNull(replaces), ifNull(replaces, ''), void, {exact_text})"
    )


#: The `content_hash` stored for an event whose hash its columns give (`event_hash_sql`):
#: every event but those whose numbers need the line's text, which `raw_events` does not
#: keep. Hashing every line while parsing was a third of the load's parse at 10 M lines, and
#: only a repeated key is ever compared.
HASH_OF_COLUMNS = "toFixedString('', 16)"


def event_hash_sql() -> str:
    """The content hash of a staged or stored event, for comparing it with another copy:
    the one stored with it, or, when that is HASH_OF_COLUMNS, the hash of its columns
    (equal to what loads before this marker stored)."""
    return f"if(content_hash = {HASH_OF_COLUMNS}, {content_hash_sql()}, content_hash)"


#: The lines of an event file, numbered from 1 as the file counts them; blank lines are not
#: events. Both selects below read lines in this shape, from the file or from the stage.
_FILE_LINES = (
    "SELECT toUInt64(_row_number + 1) AS line_no, line FROM file({path}, 'LineAsString') "
    "WHERE notEmpty(trimBoth(line))"
)

# The rules on an event once its fields are read with their JSON types checked. Both selects
# name their columns alike (`event_id_text`, `customer`, `timestamp_text`...), so each rule is
# written here once.
_CHECKED_COLUMNS = """
    upper(timestamp_field) AS timestamp_text,
    parseDateTime64BestEffortOrNull(timestamp_text, 3, 'UTC') AS parsed_timestamp,
    customer IN (SELECT customer_id FROM {db}.catalog_customers
                 WHERE catalog_version = {catalog_version}) AS known_customer,
    arrayFirst(kv -> substring(kv.2, 1, 1) IN ('n', '[', '{{'), raw_properties) AS bad_property,
    arrayMap(kv -> kv.1, raw_properties) AS property_keys,
    length(arrayDistinct(property_keys)) = length(property_keys)
        AND NOT arrayExists(kv -> length(kv.2) > {max_property}, raw_properties)
        AS plain_properties,
    -- Numbers a double cannot hold exactly: their text is re-read in Python.
    arrayExists(
        kv -> NOT startsWith(kv.2, '"') AND kv.2 NOT IN ('true', 'false')
             AND (match(kv.2, '[eE]') OR length(replaceRegexpAll(kv.2, '[^0-9]', '')) >= 15),
        raw_properties) AS long_numbers,
    length(line) <= {max_line}
        AND event_id_text != '' AND lengthUTF8(event_id_text) <= {max_event_id}
        AND customer != '' AND known_customer
        AND event_name_text != ''
        AND match(timestamp_text, {timestamp_pattern})
        AND parsed_timestamp IS NOT NULL AND toDate(parsed_timestamp) >= {first_date}
        AND parsed_timestamp <= now64(3, 'UTC') + INTERVAL 1 DAY
        AND bad_property.1 = '' AND plain_properties
        AND (replaces_text IS NULL OR replaces_text NOT IN ('', event_id_text))
        AS valid_values,"""

# What the stage keeps of a line, once its `reason` is known ('' when valid); `string_text`
# reads the text of a property whose raw JSON `kv.2` is a string.
_STAGED_COLUMNS = """
    if(reason = '', customer, '') AS customer_id,
    if(reason = '', event_id_text, '') AS event_id,
    if(reason = '', event_name_text, '') AS event_name,
    if(reason = '', parsed_timestamp, toDateTime64(0, 3, 'UTC')) AS timestamp,
    mapFromArrays(
        arrayMap(kv -> kv.1, raw_properties),
        arrayMap(kv -> if(startsWith(kv.2, '"'), {string_text}, kv.2), raw_properties)
    ) AS properties,
    source_text AS source,
    replaces_text AS replaces,
    void_value AS void,
    reason = '' AND long_numbers AS needs_exact_numbers,
    {raw_line} AS raw_line,
    sipHash128(customer_id, event_id) AS key_hash,
    {content_hash} AS content_hash"""

# The exact path: every line parsed for its raw fields, each checked for its JSON type, and
# the detailed reason of the first problem of a line that is not well formed.
_STAGE_SELECT = """
SELECT
    {seq} AS load_seq,
    line_no,
    JSONExtractKeysAndValuesRaw(line) AS top_fields,
    arrayMap(kv -> kv.1, top_fields) AS top_keys,
    mapFromArrays(top_keys, arrayMap(kv -> kv.2, top_fields)) AS raw,
    notEmpty(top_keys) AND length(arrayDistinct(top_keys)) = length(top_keys) AS plain_object,
    if(plain_object, JSONExtractKeysAndValuesRaw(raw['properties']),
       JSONExtractKeysAndValuesRaw(line, 'properties')) AS raw_properties,
    if(plain_object, JSONExtractString(raw['timestamp']),
       JSONExtractString(line, 'timestamp')) AS timestamp_field,
    if(plain_object, JSONExtractString(raw['customer_id']),
       JSONExtractString(line, 'customer_id')) AS customer,
    if(plain_object, JSONExtractString(raw['event_id']),
       JSONExtractString(line, 'event_id')) AS event_id_text,
    if(plain_object, JSONExtractString(raw['event_name']),
       JSONExtractString(line, 'event_name')) AS event_name_text,
    multiIf(NOT plain_object AND JSONType(line, 'source') = 'String',
                JSONExtractString(line, 'source'),
            plain_object AND startsWith(raw['source'], '"'), JSONExtractString(raw['source']),
            NULL) AS source_text,
    multiIf(NOT plain_object AND JSONType(line, 'replaces') = 'String',
                JSONExtractString(line, 'replaces'),
            plain_object AND startsWith(raw['replaces'], '"'), JSONExtractString(raw['replaces']),
            NULL) AS replaces_text,
    if(plain_object, raw['void'] = 'true', JSONExtractBool(line, 'void')) AS void_value,
    {checked_columns}
    -- The common case, decided from one parse of the line: every field present with its
    -- type and valid values. When it holds the line is valid; otherwise the detailed checks
    -- name the problem (they run only for those lines: short-circuit evaluation).
    plain_object
        AND startsWith(raw['event_id'], '"') AND startsWith(raw['customer_id'], '"')
        AND startsWith(raw['event_name'], '"') AND startsWith(raw['timestamp'], '"')
        AND (NOT mapContains(raw, 'properties') OR raw['properties'] = 'null'
             OR startsWith(raw['properties'], '{{'))
        AND (NOT mapContains(raw, 'source') OR raw['source'] = 'null'
             OR startsWith(raw['source'], '"'))
        AND (NOT mapContains(raw, 'replaces') OR raw['replaces'] = 'null'
             OR startsWith(raw['replaces'], '"'))
        AND (NOT mapContains(raw, 'void') OR raw['void'] IN ('null', 'true', 'false'))
        AND valid_values
        AS well_formed,
    if(well_formed, '', {reason}) AS reason,
    {staged_columns}
FROM ({lines})
"""

# The fast path: one typed parse of the line proves the common case valid; every line it
# cannot prove (escapes, a repeated, unknown or null field, a field of another type, an empty
# or odd `properties`, a long number, a bad value) is marked UNPROVEN, kept whole, and staged
# again by the exact path above, which names its problem.
_FAST_SELECT = """
SELECT
    {seq} AS load_seq,
    line_no,
    JSONExtract(line, 'Tuple(event_id Dynamic, customer_id Dynamic, event_name Dynamic,
        timestamp Dynamic, source Dynamic, replaces Dynamic, void Dynamic,
        properties String)') AS fields,
    -- Read as the exact path reads a plain object, through the raw text of `properties`
    -- (an object read as a String is its raw text, as `JSONExtractRaw` gives it): each
    -- reading re-prints numbers (`-0.0` gives "-0", then "0"), so both read it twice.
    JSONExtractKeysAndValuesRaw(fields.properties) AS raw_properties,
    ifNull(fields.event_id.String, '') AS event_id_text,
    ifNull(fields.customer_id.String, '') AS customer,
    ifNull(fields.event_name.String, '') AS event_name_text,
    ifNull(fields.timestamp.String, '') AS timestamp_field,
    fields.source.String AS source_text,
    fields.replaces.String AS replaces_text,
    ifNull(fields.void.Bool, false) AS void_value,
    {checked_columns}
    position(line, '\\\\') = 0 AND isValidUTF8(line)
        AND fields.event_id.String IS NOT NULL AND fields.customer_id.String IS NOT NULL
        AND fields.event_name.String IS NOT NULL AND fields.timestamp.String IS NOT NULL
        AND (isNull(fields.source) OR source_text IS NOT NULL)
        AND (isNull(fields.replaces) OR replaces_text IS NOT NULL)
        AND (isNull(fields.void) OR fields.void.Bool IS NOT NULL)
        -- Every key of the line is one of the fields above, once, not null; `properties`,
        -- when there, a non-empty object.
        AND JSONLength(line) = 4 + isNotNull(fields.source) + isNotNull(fields.replaces)
            + isNotNull(fields.void) + notEmpty(raw_properties)
        AND NOT long_numbers
        AND valid_values
        AS proven,
    if(proven, '', {unproven}) AS reason,
    NOT proven AS unproven,
    {staged_columns}
FROM ({lines})
-- A JSON string is read as a string, never as the date or number it may look like (a field
-- read as any other type is left to the exact path: slower, never wrong).
SETTINGS input_format_try_infer_dates = 0, input_format_try_infer_datetimes = 0,
    input_format_json_try_infer_numbers_from_strings = 0
"""

#: The reason of a line the fast path leaves to the exact path: never seen outside a load.
UNPROVEN = "left to the exact path"

_STAGE_COLUMNS = (
    "load_seq, line_no, reason, customer_id, event_id, event_name, timestamp, properties, "
    "source, replaces, void, needs_exact_numbers, raw_line, key_hash, content_hash"
)


def _sql_parts(database: str, catalog_version: int, seq: int) -> dict:
    return {
        "seq": seq,
        "db": database,
        "catalog_version": catalog_version,
        "timestamp_pattern": quote_string(_TIMESTAMP),
        "leap_second_pattern": quote_string(_LEAP_SECOND),
        "max_line": MAX_LINE_BYTES,
        "kept_bytes": KEPT_BYTES,
        "max_property": MAX_PROPERTY_BYTES,
        "max_event_id": MAX_EVENT_ID_CHARS,
        "first_date": f"toDate('{FIRST_EVENT_DATE.isoformat()}')",
        "first_date_text": FIRST_EVENT_DATE.isoformat(),
    }


def _content_hash() -> str:
    return f"if(needs_exact_numbers, {content_hash_sql(exact_text='line')}, {HASH_OF_COLUMNS})"


def staged_lines_sql(
    database: str,
    file_path: str,
    catalog_version: int,
    seq: int = 0,
    explain: bool = True,
    lines: str | None = None,
) -> str:
    """The SELECT that parses and checks every line of an event file, as the warehouse names
    it: one row per line with its `reason` ('' when valid). The loader stages its rows; the
    API asks it of a request's events, so both give the same reasons. Without `explain`, a
    line that is not well formed gets `UNEXPLAINED` instead of its reason: the detailed
    checks are most of the time the engine spends reading the query, which the API then
    spends only on requests with a bad event. `lines` replaces the file by a query of
    (`line_no`, `line`): the lines the fast path left to this one."""
    parts = _sql_parts(database, catalog_version, seq)
    detail = {
        "timestamp_kind": _json_kind("timestamp"),
        "properties_kind": _json_kind("properties"),
        "event_id": _required_string("event_id", max_length=MAX_EVENT_ID_CHARS),
        "customer_id": _required_string("customer_id"),
        "event_name": _required_string("event_name"),
        "source": _optional("source", "String", "a string"),
        "replaces": _optional("replaces", "String", "a string"),
        "void": _optional("void", "Bool", "true or false"),
    }
    reason = _REASON.format(**parts, **detail) if explain else quote_string(UNEXPLAINED)
    raw_line = (
        "if(reason != '' OR needs_exact_numbers, "
        f"if(length(line) > {MAX_LINE_BYTES}, substring(line, 1, {KEPT_BYTES}), line), '')"
    )
    return _STAGE_SELECT.format(
        checked_columns=_CHECKED_COLUMNS.format(**parts),
        reason=reason,
        staged_columns=_STAGED_COLUMNS.format(
            raw_line=raw_line, content_hash=_content_hash(), string_text="JSONExtractString(kv.2)"
        ),
        lines=lines or _FILE_LINES.format(path=quote_string(file_path)),
        **parts,
    )


def fast_lines_sql(database: str, file_path: str, catalog_version: int, seq: int) -> str:
    """The fast path's SELECT over an event file: the rows of the lines it proves valid, and
    for every other line a row with reason UNPROVEN and the whole line in `raw_line`."""
    parts = _sql_parts(database, catalog_version, seq)
    return _FAST_SELECT.format(
        checked_columns=_CHECKED_COLUMNS.format(**parts),
        unproven=quote_string(UNPROVEN),
        staged_columns=_STAGED_COLUMNS.format(
            raw_line="if(proven, '', line)",
            # A proven line has no long number: its hash is its columns'.
            content_hash=HASH_OF_COLUMNS,
            # A proven line has no backslash: a string's text is what its quotes enclose.
            string_text="substring(kv.2, 2, length(kv.2) - 2)",
        ),
        lines=_FILE_LINES.format(path=quote_string(file_path)),
        **parts,
    )


#: The reason of a line that is not well formed, when the query was not asked to explain.
UNEXPLAINED = "not well formed"


# The fast path's UNPROVEN rows have a partition of their own, dropped whole (no mutation)
# once the exact path has staged their lines. Sorted as `raw_events` is, so the blocks its
# insert reads come sorted (at 10 M lines that insert took 4.5 s instead of 8.7 s). Never
# merged: the stage is read a few times and dropped, and merging it rewrote every row once
# or twice while the file was still being parsed, and held up to half of the warehouse's
# memory during the insert into `raw_events` at 100 M lines; a part per block is fine to read
# (about 2,000 for a billion lines, under the limits set here).
_STAGE_TABLE = """
CREATE TABLE {db}.{stage} (
    load_seq UInt64, line_no UInt64, reason String, customer_id String, event_id String,
    event_name String, timestamp DateTime64(3, 'UTC'), properties Map(String, String),
    source Nullable(String), replaces Nullable(String), void Bool,
    needs_exact_numbers Bool, raw_line String, key_hash FixedString(16),
    content_hash FixedString(16), corrects Nullable(String), unproven Bool DEFAULT false
) ENGINE = MergeTree PARTITION BY unproven
ORDER BY (toDate(timestamp), customer_id, event_name, timestamp, event_id)
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, parts_to_delay_insert = 100000,
    parts_to_throw_insert = 100000, max_parts_in_total = 100000
"""

#: The stage's columns settled in Python for a few lines, each in a Join table of its own
#: (`load_<seq>_<column>`), by line: the type of its values.
_SETTLED_COLUMNS = {"properties": "Map(String, String)", "reason": "String", "corrects": "String"}


#: Engine errors that mean the file itself cannot be read (a corrupt or truncated gzip
#: stream, plain text named `.gz`): the file is quarantined whole, the others load.
_UNREADABLE_FILE_CODES = {32, 33, 354, 271, 432}
_ERROR_CODE = re.compile(r"Code: (\d+)\. DB::Exception: (.*?)(?:: While|$)", re.S)


class EventLoader:
    """Loads files into the event store of one database; one load at a time.

    `file_path` names a landed file the way the warehouse's `file()` reads it (relative to
    its files root: `ClickHouseSettings.file_path`)."""

    def __init__(
        self,
        client: Client,
        database: str,
        file_path: Callable[[Path], str],
        fast_path: bool = True,
    ):
        """`fast_path=False` stages every line through the exact path: the same tables,
        slower; the differential tests compare the two."""
        self.client = client
        self.db = f"`{database}`"
        self.file_path = file_path
        self.fast_path = fast_path

    def discard_unfinished_loads(self) -> list[int]:
        """Remove what loads that died before committing left: first stop the statements a
        killed loader left running in the warehouse (they would write after the clean-up),
        then delete the rows of every uncommitted load and drop its staging tables. Loads
        are serialized (`locks.EVENT_LOADS`), so no live load's statement is touched."""
        self.client.command(
            f"KILL QUERY WHERE position(query, {quote_string(f'{self.db}.load_')}) > 0 "
            f"AND query NOT LIKE 'KILL QUERY%' SYNC"
        )
        tables = self._staging_tables()
        seqs = {int(name.split("_")[1]) for name in tables}
        committed = {
            seq
            for (seq,) in self.client.query(
                f"SELECT load_seq FROM {self.db}.event_loads "
                f"WHERE load_seq IN {{seqs:Array(UInt64)}}",
                parameters={"seqs": sorted(seqs)},
            ).result_rows
        }
        stale = sorted(seqs - committed)
        for seq in stale:
            for table in ("raw_events", "event_duplicates", "quarantined_events"):
                self.client.command(
                    f"DELETE FROM {self.db}.{table} WHERE load_seq = {seq}",
                    settings={"mutations_sync": 2},
                )
        for table in tables:
            self.client.command(f"DROP TABLE IF EXISTS {self.db}.`{table}`")
        return stale

    def already_loaded(self, file_sha256: str) -> bool:
        return bool(
            self.client.command(
                f"SELECT count() FROM {self.db}.event_loads WHERE file_sha256 = {{sha:String}}",
                parameters={"sha": file_sha256},
            )
        )

    def load(
        self,
        path: Path,
        file_sha256: str,
        file_name: str,
        landing_date: date,
        catalog_version: int,
    ) -> LoadResult:
        seq = self._next_seq()
        stage = f"load_{seq}"
        self.client.command(_STAGE_TABLE.format(db=self.db, stage=stage))
        for column, column_type in _SETTLED_COLUMNS.items():
            self.client.command(
                f"CREATE TABLE {self.db}.{stage}_{column} (line_no UInt64, value {column_type}) "
                f"ENGINE = Join(ANY, LEFT, line_no)"
            )
        unreadable = self._stage(stage, seq, path, catalog_version)
        if unreadable:
            counts = self._quarantine_file(stage, seq, file_name, unreadable)
        else:
            self._read_long_numbers_exactly(stage)
            self._explain_numbers_out_of_range(stage)
            self._link_corrections(stage)
            counts = self._store(stage, seq, file_name)
        event_dates = self._event_dates(seq)
        self.client.insert(
            f"{self.db}.event_loads",
            [
                [
                    seq,
                    file_sha256,
                    file_name,
                    str(path),
                    landing_date,
                    counts["lines"],
                    counts["accepted"],
                    counts["duplicates"],
                    counts["conflicts"],
                    counts["quarantined"],
                    list(event_dates),
                    datetime.now(UTC),
                ]
            ],
            column_names=[
                "load_seq",
                "file_sha256",
                "file_name",
                "landing_path",
                "landing_date",
                "lines",
                "accepted",
                "duplicates",
                "conflicts",
                "quarantined",
                "event_dates",
                "loaded_at",
            ],
        )
        for table in (stage, *(f"{stage}_{column}" for column in _SETTLED_COLUMNS)):
            self.client.command(f"DROP TABLE {self.db}.{table}")
        return LoadResult(seq, event_dates=event_dates, **counts)

    def _staging_tables(self) -> list[str]:
        """Tables of unfinished loads: `load_<seq>` and its helpers (`load_<seq>_existing`...)."""
        rows = self.client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} "
            "AND match(name, '^load_[0-9]+(_[a-z]+)?$')",
            parameters={"db": self.db.strip("`")},
        ).result_rows
        return [row[0] for row in rows]

    def _next_seq(self) -> int:
        committed = self.client.command(f"SELECT max(load_seq) FROM {self.db}.event_loads")
        return int(committed or 0) + 1

    def _stage(self, stage: str, seq: int, path: Path, catalog_version: int) -> str:
        """Parse the file's lines into the staging table; returns why the file cannot be
        read at all, or "" when it was read."""
        file_path = self.file_path(path)
        try:
            if self.fast_path:
                self._insert_staged(
                    stage,
                    fast_lines_sql(self.db, file_path, catalog_version, seq),
                    f"{_STAGE_COLUMNS}, unproven",
                )
                self._stage_unproven_lines(stage, seq, catalog_version)
            else:
                self._insert_staged(
                    stage, staged_lines_sql(self.db, file_path, catalog_version, seq)
                )
        except DatabaseError as error:
            found = _ERROR_CODE.search(str(error))
            if not found or int(found.group(1)) not in _UNREADABLE_FILE_CODES:
                raise
            return f"the file cannot be read: {found.group(2).strip()}"
        return ""

    def _insert_staged(self, stage: str, select: str, columns: str = _STAGE_COLUMNS) -> None:
        self.client.command(
            f"INSERT INTO {self.db}.{stage} ({columns}) SELECT {columns} FROM ({select})",
            settings={
                # The detailed checks of `reason` run only for lines that are not well
                # formed.
                "short_circuit_function_evaluation": "force_enable",
                # Read the file, do not map it: a mapped 2 GB file counts in the server's
                # RSS.
                "storage_file_read_method": "pread",
            },
        )

    def _stage_unproven_lines(self, stage: str, seq: int, catalog_version: int) -> None:
        """Stage the lines the fast path could not prove valid through the exact path, then
        drop the UNPROVEN rows: the stage ends as the exact path alone would leave it."""
        unproven = f"{self.db}.{stage} WHERE unproven"
        if not self.client.command(f"SELECT count() FROM {unproven}"):
            return
        lines = f"SELECT line_no, raw_line AS line FROM {unproven}"
        self._insert_staged(stage, staged_lines_sql(self.db, "", catalog_version, seq, lines=lines))
        self.client.command(f"ALTER TABLE {self.db}.{stage} DROP PARTITION 1")

    def _quarantine_file(self, stage: str, seq: int, file_name: str, reason: str) -> dict:
        """The whole file in quarantine, as one entry (line 0) with the reason."""
        self.client.command(f"TRUNCATE TABLE {self.db}.{stage}")
        self.client.insert(
            f"{self.db}.quarantined_events",
            [[seq, file_name, 0, "", reason, datetime.now(UTC)]],
            column_names=[
                "load_seq",
                "file_name",
                "line_no",
                "raw_line",
                "reason",
                "quarantined_at",
            ],
        )
        return {"lines": 0, "accepted": 0, "duplicates": 0, "conflicts": 0, "quarantined": 1}

    def _read_long_numbers_exactly(self, stage: str) -> None:
        """Re-read the properties of the rare lines whose numbers a double cannot hold."""
        rows = self.client.query(
            f"SELECT line_no, raw_line FROM {self.db}.{stage} WHERE needs_exact_numbers"
        ).result_rows
        exact = [[line_no, exact_properties(line)] for line_no, line in rows]
        self._settle(stage, "properties", exact)

    def _explain_numbers_out_of_range(self, stage: str) -> None:
        """A line the engine cannot read because a number is beyond a double (`1e400`) is
        valid JSON: say what is wrong with it instead of "not valid JSON"."""
        rows = self.client.query(
            f"SELECT line_no, raw_line FROM {self.db}.{stage} "
            f"WHERE reason = 'line is not valid JSON' "
            f"AND match(raw_line, '[0-9][eE][+]?[0-9]{{3}}')"
        ).result_rows
        reasons = []
        for line_no, line in rows:
            number = number_out_of_range(line)
            if number:
                reasons.append([line_no, number_out_of_range_reason(number)])
        self._settle(stage, "reason", reasons)

    def _link_corrections(self, stage: str) -> None:
        """Tie each correction to the original event it stands for, by ingestion order.

        A correction may only name an event ingested before it: in an earlier load, or on
        an earlier line of this file. Naming any other is quarantined with the reason, so a
        correction that arrives before its event never counts twice nor suppresses the event
        later. A correction of a correction stands for the same original (`corrects`), and
        of all the versions of an original only the one ingested last counts (dbt model
        `int_events__replaced`)."""
        db = self.db
        corrections = self.client.query(
            f"SELECT line_no, customer_id, event_id, assumeNotNull(replaces) FROM {db}.{stage} "
            f"WHERE reason = '' AND replaces IS NOT NULL ORDER BY line_no"
        ).result_rows
        if not corrections:
            return
        targets = (
            f"(SELECT customer_id, assumeNotNull(replaces) FROM {db}.{stage} "
            f"WHERE reason = '' AND replaces IS NOT NULL)"
        )
        originals: dict[tuple[str, str], str] = {
            (customer, event): original
            for customer, event, original in self.client.query(
                f"SELECT customer_id, event_id, ifNull(corrects, event_id) FROM {db}.raw_events "
                f"WHERE (customer_id, event_id) IN {targets} "
                f"AND load_seq IN (SELECT load_seq FROM {db}.event_loads)"
            ).result_rows
        }
        first_lines = {
            (customer, event): line_no
            for customer, event, line_no in self.client.query(
                f"SELECT customer_id, event_id, min(line_no) FROM {db}.{stage} "
                f"WHERE reason = '' AND replaces IS NULL AND (customer_id, event_id) IN {targets} "
                f"GROUP BY customer_id, event_id"
            ).result_rows
        }
        linked, orphans = [], []
        for line_no, customer, event, replaced in corrections:
            target = (customer, replaced)
            if target in originals:
                original = originals[target]
            elif first_lines.get(target, line_no) < line_no:
                original = replaced
            else:
                orphans.append([line_no, orphan_correction_reason(customer, replaced)])
                continue
            linked.append([line_no, original])
            originals.setdefault((customer, event), original)
        self._settle(stage, "reason", orphans)
        self._settle(stage, "corrects", linked)

    def _settle(self, stage: str, column: str, values: list[list]) -> None:
        """Give the staged lines listed as [line_no, value] a new value of `column`, read
        over the staged one by `_settled_columns`."""
        if values:
            self.client.insert(f"{self.db}.{stage}_{column}", values, ["line_no", "value"])

    def _settled_columns(self, stage: str) -> dict[str, str]:
        """SQL reading each of `_SETTLED_COLUMNS` of a staged line with the value `_settle`
        gave it: the column itself when no line got one (the common case, read as fast as
        the stage was written; a subquery over it would lose its order)."""
        settled = {
            name.removeprefix(f"{stage}_"): f"'{self.db.strip('`')}.{name}'"
            for (name,) in self.client.query(
                "SELECT name FROM system.tables WHERE database = {db:String} "
                "AND name IN {names:Array(String)} AND total_rows > 0",
                parameters={
                    "db": self.db.strip("`"),
                    "names": [f"{stage}_{column}" for column in _SETTLED_COLUMNS],
                },
            ).result_rows
        }
        read = {
            "properties": "if(needs_exact_numbers, joinGet({table}, 'value', line_no), properties)",
            "reason": "ifNull(joinGetOrNull({table}, 'value', line_no), reason)",
            # Only a correction stands for another event.
            "corrects": "if(replaces IS NULL, NULL, joinGetOrNull({table}, 'value', line_no))",
        }
        return {
            column: read[column].format(table=settled[column]) if column in settled else column
            for column in _SETTLED_COLUMNS
        }

    def _store(self, stage: str, seq: int, file_name: str) -> dict[str, int]:
        db = self.db
        settled = self._settled_columns(stage)
        valid = f"{settled['reason']} = ''"
        # First copies already in the store, from committed loads (earlier loads win): a
        # join rather than an `IN` set of the file's keys (a set never spills; a join can
        # switch to one that does); on a store's first load, nothing to look up.
        existing = (
            f"SELECT r.key_hash AS key_hash, true AS found, "
            f"argMin({event_hash_sql()}, (r.load_seq, r.line_no)) AS first_hash, "
            f"min((r.load_seq, r.line_no)) AS first_position "
            f"FROM {db}.raw_events AS r "
            f"INNER JOIN (SELECT DISTINCT key_hash FROM {db}.{stage} WHERE {valid}) AS s "
            f"ON r.key_hash = s.key_hash "
            f"WHERE r.load_seq IN (SELECT load_seq FROM {db}.event_loads) GROUP BY r.key_hash"
            if self.client.command(f"SELECT count() FROM {db}.event_loads")
            else f"SELECT key_hash, true AS found, content_hash AS first_hash, "
            f"(load_seq, line_no) AS first_position FROM {db}.raw_events WHERE false"
        )
        self.client.command(
            f"CREATE TABLE {db}.{stage}_existing ENGINE = MergeTree ORDER BY key_hash AS {existing}"
        )
        # Every line whose key repeats in this file or is stored already, with its content
        # hash: the only lines ever compared. The repeated keys are counted first (at 10 M
        # lines, 0.8 s against 1.4 s for one aggregation of every key, and 3.4 s reading the
        # stage in key order); hashing reads every column of every granule (such lines are
        # spread over all of them), so it is done once, here, for both uses below.
        copies = (
            f"SELECT key_hash, line_no, load_seq, customer_id, event_id, timestamp, "
            f"{event_hash_sql()} AS copy_hash FROM {db}.{stage} WHERE {valid} AND ("
            f"key_hash IN (SELECT key_hash FROM {db}.{stage} WHERE {valid} "
            f"GROUP BY key_hash HAVING count() > 1) "
            f"OR key_hash IN (SELECT key_hash FROM {db}.{stage}_existing))"
        )
        self.client.command(
            f"CREATE TABLE {db}.{stage}_copies ENGINE = MergeTree ORDER BY (key_hash, line_no) "
            f"AS {copies}"
        )
        # Keys seen more than once in this file, with their first line.
        repeated = (
            f"SELECT key_hash, argMin(copy_hash, line_no) AS first_hash, "
            f"min(line_no) AS first_line FROM {db}.{stage}_copies "
            f"GROUP BY key_hash HAVING count() > 1"
        )
        self.client.command(
            f"CREATE TABLE {db}.{stage}_repeated ENGINE = MergeTree ORDER BY key_hash AS {repeated}"
        )
        is_first = (
            f"key_hash NOT IN (SELECT key_hash FROM {db}.{stage}_existing) AND "
            f"(key_hash NOT IN (SELECT key_hash FROM {db}.{stage}_repeated) OR "
            f"(key_hash, line_no) IN (SELECT key_hash, first_line FROM {db}.{stage}_repeated))"
        )
        self.client.command(
            f"INSERT INTO {db}.raw_events (event_date, customer_id, event_id, event_name, "
            f"timestamp, properties, source, replaces, void, key_hash, content_hash, "
            f"load_seq, line_no, corrects) "
            f"SELECT toDate(timestamp), customer_id, event_id, event_name, timestamp, "
            f"{settled['properties']}, source, replaces, void, key_hash, content_hash, load_seq, "
            f"line_no, {settled['corrects']} "
            f"FROM {db}.{stage} WHERE {valid} AND {is_first}",
            # One block at a time: its sorting and writing take one thread anyway, and a
            # second reader held a second block (at 100 M events, 818 against 409 MiB of
            # query memory in the same time).
            settings={"max_threads": 1},
        )
        self.client.command(
            f"INSERT INTO {db}.event_duplicates SELECT s.customer_id, s.event_id, s.timestamp, "
            f"s.copy_hash != if(e.found, e.first_hash, r.first_hash), "
            f"s.load_seq, s.line_no, "
            f"if(e.found, e.first_position.1, {seq}), "
            f"if(e.found, e.first_position.2, r.first_line) "
            f"FROM (SELECT * FROM {db}.{stage}_copies WHERE NOT ({is_first})) AS s "
            f"LEFT JOIN {db}.{stage}_existing AS e ON s.key_hash = e.key_hash "
            f"LEFT JOIN {db}.{stage}_repeated AS r ON s.key_hash = r.key_hash",
            settings={"join_use_nulls": 0},
        )
        self.client.command(
            f"INSERT INTO {db}.quarantined_events SELECT load_seq, {quote_string(file_name)}, "
            f"line_no, raw_line, {settled['reason']}, now64(3) FROM {db}.{stage} "
            f"WHERE NOT ({valid})"
        )
        for table in ("existing", "copies", "repeated"):
            self.client.command(f"DROP TABLE {db}.{stage}_{table}")
        counts = self.client.query(
            f"SELECT count(), countIf(NOT ({valid})) FROM {db}.{stage}"
        ).result_rows[0]
        accepted = self.client.command(
            f"SELECT count() FROM {db}.raw_events WHERE load_seq = {seq}"
        )
        duplicates, conflicts = self.client.query(
            f"SELECT count(), countIf(is_conflict) FROM {db}.event_duplicates "
            f"WHERE load_seq = {seq}"
        ).result_rows[0]
        return {
            "lines": int(counts[0]),
            "accepted": int(accepted),
            "duplicates": int(duplicates),
            "conflicts": int(conflicts),
            "quarantined": int(counts[1]),
        }

    def _event_dates(self, seq: int) -> tuple[date, ...]:
        """Days whose usage changed: days of the new events and, for corrections, of every
        earlier version of the events they correct (the original and older corrections)."""
        db = self.db
        days = {
            row[0]
            for row in self.client.query(
                f"SELECT DISTINCT event_date FROM {db}.raw_events WHERE load_seq = {seq}"
            ).result_rows
        }
        originals = (
            f"SELECT customer_id, assumeNotNull(corrects) FROM {db}.raw_events "
            f"WHERE load_seq = {seq} AND corrects IS NOT NULL"
        )
        if self.client.command(f"SELECT count() FROM ({originals})"):
            days |= {
                row[0]
                for row in self.client.query(
                    f"SELECT DISTINCT event_date FROM {db}.raw_events "
                    f"WHERE key_hash IN (SELECT sipHash128(*) FROM ({originals})) "
                    f"OR (corrects IS NOT NULL AND (customer_id, corrects) IN ({originals}))"
                ).result_rows
            }
        return tuple(sorted(days))


def number_out_of_range(line: str) -> str | None:
    """The first number of a JSON line beyond a double's range, as written; None if the
    line is not JSON or has none."""
    found: list[str] = []

    def number(text: str) -> str:
        # copy_abs, not abs(): exact, so an exponent beyond the decimal context's (1e1000000)
        # does not raise Overflow and fail the whole load.
        if not found and Decimal(text).copy_abs() > _DOUBLE_MAX:
            found.append(text)
        return text

    try:
        json.loads(line, parse_float=number, parse_int=number)
    except ValueError:
        return None
    return found[0] if found else None


_DOUBLE_MAX = Decimal("1.7976931348623157e308")


def number_out_of_range_reason(number: str) -> str:
    return f"the number {number} is beyond what can be read (about ±1.8e308); send it as a string"


def orphan_correction_reason(customer: str, replaced: str) -> str:
    return (
        f'field "replaces" names event "{replaced}" of customer "{customer}", which was not '
        f"ingested before this event; send a correction after the event it corrects"
    )


def exact_properties(line: str) -> dict[str, str]:
    """Property values as text, with every number exactly as written (CONTRACT.md §1)."""
    properties = json.loads(line, parse_float=Decimal, parse_int=Decimal).get("properties") or {}
    return {key: property_text(value) for key, value in properties.items()}


def property_text(value: str | bool | Decimal) -> str:
    """How a property value compares as text: numbers in plain notation, no trailing zeros."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value
