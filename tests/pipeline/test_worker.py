"""`billing` as typed, through its home's warm worker (cli/client.py, cli/worker.py): the
first command runs in its own process and starts the worker; the next ones run in copies of
it, with the same output, exit codes and messages as in a process of their own; Ctrl-C
reaches them, a killed client takes its command with it, and `warehouse stop` ends the
worker."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from billing_dagster.cli.client import worker_address
from billing_dagster.cli.worker import logged_commands
from billing_dagster.locks import CATALOG, home_lock
from tests.catalogs import calls_catalog
from tests.conftest import REPO

BILLING = Path(sys.executable).with_name("billing")
CATALOG_TEXT = calls_catalog(
    ["{id: 'a\"b', name: Quote, subscriptions: [{plan: pro, start: 2026-01-01}]}"]
)


def environment(home: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "BILLING_"))}
    return env | {"BILLING_HOME": str(home), **more}


def billing(home: Path, *args: str, **more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BILLING), *args],
        cwd=REPO,
        env=environment(home, **more),
        capture_output=True,
        text=True,
        timeout=600,
    )


def started(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BILLING), *args],
        cwd=REPO,
        env=environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_listening(home: Path) -> None:
    """The worker started by the first command binds its address before it warms up; a
    command sent then waits for it."""
    for _ in range(6000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
            try:
                probe.connect(worker_address(home))
                return
            except ConnectionRefusedError:
                select.select([], [], [], 0.02)
    raise AssertionError(f"no worker listens for {home}")


def commands_run_by_worker(home: Path) -> list[str]:
    return [command for _pid, command in logged_commands(home)]


def wait_for_exit(pid: int) -> None:
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:  # already gone
        return
    try:
        assert select.select([descriptor], [], [], 120)[0], f"process {pid} is still running"
    finally:
        os.close(descriptor)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "catalog.yaml").write_text(CATALOG_TEXT)
    events = [
        {
            "event_id": f"e{n}",
            "customer_id": 'a"b',
            "event_name": "api_request",
            "timestamp": f"2026-10-{n + 1:02d}T12:00:00Z",
        }
        for n in range(7)
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    yield home
    billing(home, "warehouse", "stop")


def test_commands_run_in_the_warm_worker_as_in_their_own_process(home):
    catalog, events = home.parent / "catalog.yaml", home.parent / "events.jsonl"
    applied = billing(home, "catalog", "apply", str(catalog))
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["customers"] == 1
    wait_until_listening(home)
    assert commands_run_by_worker(home) == []  # the first command ran in its own process

    ingested = billing(home, "ingest", str(events))
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["accepted"] == 7
    billed = billing(home, "bill", "--period", "2026-10")
    assert billed.returncode == 0, billed.stderr

    in_worker = billing(home, "invoices", "--period", "2026-10", "--format", "json")
    on_its_own = billing(
        home, "invoices", "--period", "2026-10", "--format", "json", **{"BILLING_WORKER": "off"}
    )
    assert in_worker.returncode == on_its_own.returncode == 0
    assert in_worker.stdout == on_its_own.stdout
    (invoice,) = json.loads(in_worker.stdout)
    assert (invoice["customer_id"], invoice["total"]) == ('a"b', "0.07")

    refused = billing(home, "bill", "--period", "2026-13")
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        2,
        "",
        "billing: --period '2026-13': expected a month as YYYY-MM, e.g. 2026-10\n",
    )
    # Another environment: the worker declines, the command runs in its own process.
    other = billing(home, "invoices", "--period", "2026-10", BILLING_FINALIZE_GRACE_DAYS="3")
    assert other.returncode == 0, other.stderr
    assert commands_run_by_worker(home) == ["ingest", "bill", "invoices", "bill"]

    stopped = billing(home, "warehouse", "stop")
    assert json.loads(stopped.stdout) == {"status": "stopped"}
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with probe, pytest.raises(ConnectionRefusedError):
        probe.connect(worker_address(home))


@contextlib.contextmanager
def command_waiting_in_worker(home: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A `catalog apply` run by the worker, waiting for the catalog lock held here until the
    block ends: its client, and the pid of the command's process."""
    catalog = home.parent / "catalog.yaml"
    assert billing(home, "catalog", "apply", str(catalog)).returncode == 0
    wait_until_listening(home)
    with home_lock(home, CATALOG):
        waiting = started(home, "catalog", "apply", str(catalog))
        assert waiting.stderr.readline().startswith("billing: waiting for the catalog lock")
        ((pid, _command),) = logged_commands(home)
        yield waiting, pid


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGKILL])
def test_a_command_in_the_worker_gets_ctrl_c_and_dies_with_its_client(home, signal_number):
    with command_waiting_in_worker(home) as (waiting, pid):
        waiting.send_signal(signal_number)
        wait_for_exit(pid)
        out, err = waiting.communicate(timeout=60)
    if signal_number == signal.SIGINT:
        assert (waiting.returncode, out, err) == (1, "", "billing: interrupted\n")
    else:
        assert waiting.returncode == -signal.SIGKILL


def process_state(pid: int) -> str:
    """R, S, T (stopped)...: the field after the command name in /proc/<pid>/stat."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_for_state(pid: int, state: str) -> None:
    for _ in range(6000):
        if process_state(pid) == state:
            return
        select.select([], [], [], 0.02)
    raise AssertionError(f"process {pid} is {process_state(pid)}, not {state}")


def wait_for_handler(pid: int, signal_number: int) -> None:
    """Until the process catches the signal (its SigCgt mask in /proc/<pid>/status)."""
    for _ in range(6000):
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
        if caught & (1 << (signal_number - 1)):
            return
        select.select([], [], [], 0.02)
    raise AssertionError(f"process {pid} does not catch signal {signal_number}")


def test_ctrl_z_stops_the_command_in_the_worker_and_fg_goes_on(home):
    with command_waiting_in_worker(home) as (waiting, pid):
        wait_for_handler(waiting.pid, signal.SIGTSTP)
        waiting.send_signal(signal.SIGTSTP)
        wait_for_state(waiting.pid, "T")
        wait_for_state(pid, "T")
    # The lock is free, but the command stays stopped until its client goes on.
    assert process_state(pid) == "T"
    waiting.send_signal(signal.SIGCONT)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert json.loads(out)["customers"] == 1


def test_a_worker_that_cannot_warm_up_declines_and_each_command_says_why(home):
    """Its settings are wrong: each command runs on its own and names the problem; the
    worker that failed stays to decline, rather than each command starting another."""
    expected = (2, "", "billing: BILLING_GATEWAY='bogus': expected one of stripe, chargebee, "
                "razorpay, file\n")  # fmt: skip
    first = billing(home, "status", BILLING_GATEWAY="bogus")
    wait_until_listening(home)
    second = billing(home, "status", BILLING_GATEWAY="bogus")
    for done in (first, second):
        assert (done.returncode, done.stdout, done.stderr) == expected
    assert commands_run_by_worker(home) == []
    assert "SettingsError: BILLING_GATEWAY='bogus'" in (home / "worker.log").read_text()
