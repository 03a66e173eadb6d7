"""The embedded endpoint against the real clickhouse-connect client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import clickhouse_connect
import pandas as pd
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError


@pytest.fixture
def table(client, database):
    name = f"`{database}`.sample"
    client.command(
        f"CREATE TABLE {name} (id UInt64, name LowCardinality(String), amount Decimal(38, 12), "
        f"at DateTime64(3, 'UTC'), tags Map(String, String), note Nullable(String)) "
        f"ENGINE = MergeTree ORDER BY id"
    )
    return name


ROWS = [
    [1, "a", Decimal("0.1"), datetime(2026, 10, 1, tzinfo=UTC), {"k": "v"}, None],
    [2, "b", Decimal("0.2"), datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=UTC), {}, "x"],
]
COLUMNS = ["id", "name", "amount", "at", "tags", "note"]


def test_command_and_query_report_version_and_values(client):
    assert client.command("SELECT version()") == "26.9.2.1"
    assert client.query("SELECT 1 + 1 AS two").result_rows == [(2,)]
    assert client.command("SELECT timezone()") == "UTC"


def test_a_query_with_no_rows_still_names_its_columns_and_types(client):
    # clickhouse-connect asks `LIMIT 0` queries as `FORMAT JSON`; dbt's contracts rely on it.
    result = client.query("SELECT toDecimal128(1, 2) AS amount, 'x' AS code LIMIT 0")
    assert result.column_names == ("amount", "code")
    assert [column.name for column in result.column_types] == ["Decimal(38, 2)", "String"]


def test_insert_keeps_decimals_timestamps_maps_and_nulls_exact(client, table):
    client.insert(table, ROWS, column_names=COLUMNS)
    rows = client.query(f"SELECT * FROM {table} ORDER BY id").result_rows
    assert rows[0][2] + rows[1][2] == Decimal("0.3")
    assert rows[1][3] == datetime(2026, 10, 31, 23, 59, 59, 999000)
    assert rows[0][4] == {"k": "v"} and rows[0][5] is None and rows[1][5] == "x"


def test_insert_df_and_query_df_round_trip(client, table):
    client.insert(table, ROWS, column_names=COLUMNS)
    frame = client.query_df(f"SELECT * FROM {table} ORDER BY id")
    client.insert_df(table, frame.assign(id=frame["id"] + 10))
    assert client.command(f"SELECT count() FROM {table}") == 4
    assert client.command(f"SELECT toString(sum(amount)) FROM {table}") == "0.6"
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == COLUMNS


def test_compressed_inserts_and_streamed_results(settings, table):
    for compression in ("lz4", "zstd", "gzip"):
        client = clickhouse_connect.get_client(
            host=settings.host,
            port=settings.port,
            username=settings.user,
            password=settings.password,
            compress=compression,
        )
        client.insert(
            table,
            [[i, "z", Decimal(i), datetime.now(UTC), {}, None] for i in range(20_000)],
            column_names=COLUMNS,
        )
    client = settings.client()
    assert client.command(f"SELECT count() FROM {table}") == 60_000
    with client.query_row_block_stream("SELECT number FROM numbers(1000000)") as stream:
        assert sum(len(block) for block in stream) == 1_000_000


def test_errors_carry_the_clickhouse_code(client):
    with pytest.raises(DatabaseError) as error:
        client.query("SELECT * FROM no_such_table_anywhere")
    assert "code: 60" in str(error.value)
    with pytest.raises(DatabaseError) as error:
        client.command("SELEC 1")
    assert "code: 62" in str(error.value)


def test_several_statements_in_one_request_are_refused(client):
    with pytest.raises(DatabaseError) as error:
        client.command("SELECT 1; SELECT 2")
    assert "Multi-statements are not allowed" in str(error.value)
    assert client.command("SELECT ';'") == ";"


def test_bound_parameters_and_sessions(settings):
    client = settings.client()
    assert client.query("SELECT {v:String}", parameters={"v": "it's"}).result_rows == [("it's",)]
    long_value = "x" * 10_000  # large parameters travel as a multipart form
    assert client.command("SELECT length({v:String})", parameters={"v": long_value}) == 10_000
    client.command("CREATE TEMPORARY TABLE scratch (n UInt8)")
    client.command("INSERT INTO scratch VALUES (7)")
    assert client.command("SELECT n FROM scratch") == 7  # same session, same temporary table


def test_concurrent_sessions_do_not_interfere(settings, table):
    errors = []

    def work(worker: int) -> None:
        try:
            client = settings.client()
            for n in range(20):
                client.insert(
                    table,
                    [[worker * 1000 + n, "c", Decimal(1), datetime.now(UTC), {}, None]],
                    column_names=COLUMNS,
                )
                client.query(f"SELECT count() FROM {table}")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert settings.client().command(f"SELECT count() FROM {table}") == 80
