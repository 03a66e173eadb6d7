"""A warehouse that is slow to answer is waited for, never replaced: a second server could
not take the port, and cleaning up after it used to delete the live server's state file."""

from __future__ import annotations

import json
import os
import signal

import pytest

from billing_dagster.warehouse import embedded


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
