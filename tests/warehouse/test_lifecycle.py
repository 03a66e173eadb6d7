"""A warehouse that is slow to answer is waited for, never replaced: a second server could
not take the port, and cleaning up after it used to delete the live server's state file."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    embedded.stop(tmp_path)


def test_a_server_that_does_not_answer_is_waited_for_not_replaced(home, monkeypatch):
    endpoint = embedded.ensure_running(home, idle_timeout_s=0)
    state_file = embedded.warehouse_dir(home) / "server.json"
    os.kill(endpoint.pid, signal.SIGSTOP)  # as busy as a server can be
    try:
        monkeypatch.setattr(embedded, "START_TIMEOUT_S", 0.2)
        with pytest.raises(embedded.WarehouseError) as failure:
            embedded.ensure_running(home, idle_timeout_s=0)
        assert str(failure.value) == (
            f"the embedded warehouse (pid {endpoint.pid}) is running but did not answer "
            f"within 0s; it may be busy with a heavy query (see "
            f"{embedded.warehouse_dir(home) / 'server.log'}); try again, or stop it with "
            f"`billing warehouse stop`"
        )
        assert json.loads(state_file.read_text())["pid"] == endpoint.pid
    finally:
        os.kill(endpoint.pid, signal.SIGCONT)
    assert embedded.ensure_running(home, idle_timeout_s=0) == endpoint


def test_a_state_file_naming_another_program_is_not_a_server(home):
    endpoint = embedded.ensure_running(home, idle_timeout_s=0)
    assert embedded.stop(home) is True
    state_file = embedded.warehouse_dir(home) / "server.json"
    state_file.write_text(
        json.dumps(
            {
                "host": endpoint.host,
                "port": endpoint.port,
                "pid": os.getpid(),  # alive, but not a warehouse
                "files_root": str(endpoint.files_root),
            }
        )
    )
    assert embedded.running_endpoint(home) is None
    assert embedded.stop(home) is False
    restarted = embedded.ensure_running(home, idle_timeout_s=0)
    assert restarted.pid != os.getpid()
    assert restarted.port == endpoint.port


_SESSION_DEFAULTS = (
    "SELECT getSetting('min_insert_block_size_rows'), "
    "getSetting('max_bytes_before_external_group_by'), getSetting('join_algorithm'), "
    "getSetting('query_plan_optimize_join_order_limit')"
)


_MERGES_PER_THREAD = (
    "SELECT value FROM system.server_settings "
    "WHERE name = 'background_merges_mutations_concurrency_ratio'"
)


def test_defaults_without_a_memory_limit_half_blocks_400_mib_spill_joins_as_written_512_mib_merges(
    home,
):
    client = ClickHouseSettings.embedded(embedded.ensure_running(home, idle_timeout_s=0)).client()
    assert client.command(_SESSION_DEFAULTS) == [
        "524288",
        str(400 * 2**20),
        "direct,parallel_hash,hash,ie_join",
        "0",
    ]
    assert client.command(_MERGES_PER_THREAD) == 1


def test_a_server_under_a_memory_limit_spills_and_refuses_what_cannot_spill(home, monkeypatch):
    monkeypatch.setenv("BILLING_WAREHOUSE_MEMORY_MB", "300")
    client = ClickHouseSettings.embedded(embedded.ensure_running(home, idle_timeout_s=0)).client()
    assert client.command(_SESSION_DEFAULTS) == ["65536", str(300 * 2**20 // 5), "auto", "0"]
    assert client.command(_MERGES_PER_THREAD) == 1
    # Ten million groups of a few bytes each: aggregated on disk past 60 MiB.
    assert (
        client.command(
            "SELECT count() FROM (SELECT number % 10000000 AS k, count() FROM numbers(20000000) "
            "GROUP BY k)"
        )
        == 10_000_000
    )
    # One array of 80 million numbers cannot be spilled: refused, the server lives on.
    with pytest.raises(DatabaseError, match="MEMORY_LIMIT_EXCEEDED"):
        client.command("SELECT length(groupArray(number)) FROM numbers(80000000)")
    assert client.command("SELECT 1") == 1


def test_a_memory_limit_that_is_not_a_number_is_named(home, monkeypatch):
    monkeypatch.setenv("BILLING_WAREHOUSE_MEMORY_MB", "2GB")
    with pytest.raises(embedded.WarehouseError) as failure:
        embedded.ensure_running(home, idle_timeout_s=0)
    assert str(failure.value) == (
        "BILLING_WAREHOUSE_MEMORY_MB='2GB': expected a whole number of MiB, such as 1400 "
        "(0 for no limit)"
    )


def _allocator_conf(pid: int) -> str | None:
    variables = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    values = [v.split(b"=", 1)[1] for v in variables if v.startswith(b"JE_MALLOC_CONF=")]
    return values[0].decode() if values else None


def test_the_engine_gives_freed_memory_back_within_a_second_unless_told_otherwise(
    home, monkeypatch
):
    monkeypatch.delenv("JE_MALLOC_CONF", raising=False)
    assert _allocator_conf(embedded.ensure_running(home, idle_timeout_s=0).pid) == (
        "dirty_decay_ms:1000"
    )
    embedded.stop(home)
    monkeypatch.setenv("JE_MALLOC_CONF", "dirty_decay_ms:3000")
    assert _allocator_conf(embedded.ensure_running(home, idle_timeout_s=0).pid) == (
        "dirty_decay_ms:3000"
    )
