"""Lifecycle of the embedded warehouse process: start on demand, find, stop.

State lives under `<home>/warehouse/`: `data/` (the chDB directory), `server.json` (pid and
port, written by the server once it listens) and `server.log`. Whoever needs the warehouse
calls `ensure_running`; a file lock makes concurrent callers start one process, not two.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
#: An endpoint started on demand (not by `billing warehouse start`) stops after this idle time.
ON_DEMAND_IDLE_TIMEOUT_S = 900.0


class WarehouseError(RuntimeError):
    """The embedded warehouse could not be started or reached; the message says why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    pid: int


def warehouse_dir(home: Path) -> Path:
    return Path(home) / "warehouse"


def running_endpoint(home: Path) -> Endpoint | None:
    """The endpoint described by the state file, if its process is alive and answers."""
    state_file = warehouse_dir(home) / "server.json"
    try:
        state = json.loads(state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    endpoint = Endpoint(state["host"], int(state["port"]), int(state["pid"]))
    if _process_alive(endpoint.pid) and _answers_ping(endpoint):
        return endpoint
    return None


def ensure_running(home: Path, idle_timeout_s: float = ON_DEMAND_IDLE_TIMEOUT_S) -> Endpoint:
    """Return the running endpoint for `home`, starting it first if needed."""
    endpoint = running_endpoint(home)
    if endpoint:
        return endpoint
    directory = warehouse_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    with _start_lock(directory):
        return running_endpoint(home) or _start(directory, idle_timeout_s)


def stop(home: Path) -> bool:
    """Stop the endpoint of `home`; True if one was running."""
    endpoint = running_endpoint(home)
    if endpoint is None:
        return False
    os.kill(endpoint.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _process_alive(endpoint.pid):
        if time.monotonic() > deadline:
            os.kill(endpoint.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    (warehouse_dir(home) / "server.json").unlink(missing_ok=True)
    return True


def _start(directory: Path, idle_timeout_s: float) -> Endpoint:
    state_file = directory / "server.json"
    state_file.unlink(missing_ok=True)
    log_path = directory / "server.log"
    command = [
        sys.executable,
        "-m",
        "billing_dagster.warehouse.server",
        "--data",
        str(directory / "data"),
        "--state",
        str(state_file),
        "--idle-timeout",
        str(idle_timeout_s),
    ]
    with open(log_path, "ab") as log:
        # A new session: the server outlives the command that started it and is not hit
        # by the terminal's Ctrl-C meant for that command.
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WarehouseError(_start_failure(directory, log_path))
        endpoint = running_endpoint(directory.parent)
        if endpoint and endpoint.pid == process.pid:
            return endpoint
        time.sleep(0.05)
    process.kill()
    raise WarehouseError(
        f"the embedded warehouse did not start within {START_TIMEOUT_S:.0f}s; see {log_path}"
    )


def _start_failure(directory: Path, log_path: Path) -> str:
    """Say plainly why the server exited; chDB's own message hides the usual cause."""
    tail = log_path.read_text(errors="replace")[-4000:]
    if "Cannot lock file" in tail or "Another server instance" in tail:
        return (
            f"the warehouse data directory {directory / 'data'} is in use by another "
            f"process (a ClickHouse/chDB instance outside this project?); stop it or "
            f"use another --home"
        )
    last = [line for line in tail.splitlines() if line.strip()][-3:]
    return "the embedded warehouse failed to start: " + " | ".join(last) + f" (log: {log_path})"


@contextmanager
def _start_lock(directory: Path):
    with open(directory / "start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def _answers_ping(endpoint: Endpoint) -> bool:
    try:
        url = f"http://{endpoint.host}:{endpoint.port}/ping"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
