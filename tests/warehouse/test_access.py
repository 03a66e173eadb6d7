"""Nobody reaches the embedded warehouse without its password, and with it nobody reaches
the files, programs or hosts of the machine through it (issue 13)."""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError


def post(warehouse, query: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://{warehouse.host}:{warehouse.port}/?{urllib.parse.urlencode({'query': query})}",
        data=b"",
        headers=headers or {},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_a_request_without_the_password_gets_401(warehouse):
    status, body = post(warehouse, "SELECT 1")
    assert status == 401
    assert body.startswith("Code: 516. DB::Exception: Authentication failed: password is ")
    assert post(warehouse, "SELECT 1", basic("default", "guess"))[0] == 401
    assert post(warehouse, "SELECT 1", {"X-ClickHouse-User": "default"})[0] == 401
    # The password works in each of the ways ClickHouse clients send it.
    assert post(warehouse, "SELECT 1", basic("default", warehouse.password)) == (200, "1\n")
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": warehouse.password}
    assert post(warehouse, "SELECT 1", headers) == (200, "1\n")
    # Liveness needs no password, as on a ClickHouse server.
    with urllib.request.urlopen(f"http://{warehouse.host}:{warehouse.port}/ping") as response:
        assert response.read() == b"Ok.\n"


@pytest.mark.parametrize(
    "statement, refused",
    [
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "file(...)"),
        ("SELECT * FROM `file`('/etc/hostname', 'LineAsString')", "file(...)"),
        ("SELECT * FROM FILE('/etc/hostname', 'LineAsString')", "FILE(...)"),
        ("SELECT * FROM file('../../etc/hostname', 'LineAsString')", "file(...)"),
        ("SELECT * FROM file('events.jsonl', 'LineAsString')", "file(...)"),
        ("SELECT * FROM file('*', 'LineAsString')", "file(...)"),
        ("INSERT INTO FUNCTION file('x.pth', 'LineAsString') SELECT 'import os'", "INSERT INTO"),
        ("SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", "url(...)"),
        ("SELECT * FROM s3('http://127.0.0.1:1/b/k', 'LineAsString')", "s3(...)"),
        ("SELECT * FROM remote('127.0.0.1:9000', system.one)", "remote(...)"),
        ("SELECT * FROM executable('id', 'LineAsString', 'x String')", "executable(...)"),
        ("CREATE TABLE default.f (a String) ENGINE = File(TSV, '/tmp/f.tsv')", "File(...)"),
        ("CREATE DATABASE fs ENGINE = Filesystem('/')", "Filesystem(...)"),
        ("SELECT 1 INTO OUTFILE '/tmp/out.tsv'", "OUTFILE"),
        ("SYSTEM SHUTDOWN", "SYSTEM statements"),
        ("ATTACH TABLE default.x FROM '/tmp/x' (a String) ENGINE = Log", "ATTACH statements"),
    ],
)
def test_what_reaches_outside_the_warehouse_is_refused(client, statement, refused):
    with pytest.raises(DatabaseError) as error:
        client.command(statement)
    message = str(error.value)
    assert "Code: 497" in message and "ACCESS_DENIED" in message, message
    assert refused in message


def test_settings_that_name_server_paths_are_refused(client):
    with pytest.raises(DatabaseError, match="setting format_schema_path is not available"):
        client.command("SELECT 1", settings={"format_schema_path": "/etc"})


def test_the_loader_reads_files_of_the_landing_zone_only(client, settings, tmp_path):
    landed = tmp_path / "events.jsonl"
    landed.write_text('{"a": 1}\n{"a": 2}\n')
    path = settings.file_path(landed)
    assert path.startswith(settings.files_root) and "billing-files-" in path
    rows = client.query(f"SELECT count() FROM file('{path}', 'LineAsString')").result_rows
    assert rows == [(2,)]
    outside = path.replace("/files/", "/files/../", 1)
    with pytest.raises(DatabaseError, match="ACCESS_DENIED"):
        client.query(f"SELECT count() FROM file('{outside}', 'LineAsString')")
    with pytest.raises(ValueError, match=r"outside .*the only directory the warehouse reads"):
        settings.file_path(Path("/elsewhere.jsonl"))
