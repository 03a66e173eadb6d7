"""Lifecycle of the embedded warehouse process: start on demand, find, stop.

State lives under `<home>/warehouse/`, owner-only: `data/` (the chDB directory),
`credentials.json` (the user and the random password every client must send, made at first
start), `port` (chosen at first start and kept, so dbt and BI tools are pointed at it once;
`BILLING_WAREHOUSE_PORT` sets it), `server.json` (pid and port, written by the server once
it listens) and `server.log`. Whoever needs the warehouse calls `ensure_running`; a file
lock makes concurrent callers start one process, not two.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
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
#: The engine's memory limit by default (`BILLING_WAREHOUSE_MEMORY_MB`): none. At 1400, the
#: server bills a month of 30 M events under 1 GiB, but loads about 1.5 times slower
#: (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT_MB = 0
#: The engine's allocator (jemalloc, configured by `JE_MALLOC_CONF`) gives freed pages back
#: after a second instead of chDB's five: loading 30 M events peaked at 1.8 GiB instead of
#: 2.2 GiB, in the same time (docs/benchmarks.md). A `JE_MALLOC_CONF` of the user's wins.
ALLOCATOR_CONF = "dirty_decay_ms:1000"


class WarehouseError(RuntimeError):
    """The embedded warehouse could not be started or reached; the message says why."""


#: The one user of the embedded warehouse.
USER = "default"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    pid: int
    password: str
    #: The directory `file()` reads from, by relative paths (the landing zone).
    files_root: Path
    user: str = USER


def warehouse_dir(home: Path) -> Path:
    return Path(home) / "warehouse"


def landing_dir(home: Path) -> Path:
    return Path(home) / "landing"


def running_endpoint(home: Path) -> Endpoint | None:
    """The endpoint described by the state file, if its process is alive and answers."""
    endpoint = _live_server(home)
    if endpoint and _answers_ping(endpoint):
        return endpoint
    return None


def _live_server(home: Path) -> Endpoint | None:
    """The endpoint described by the state file if its warehouse process is alive, whether
    or not it answers now: a server busy with a heavy query is slow, not gone."""
    state_file = warehouse_dir(home) / "server.json"
    try:
        state = json.loads(state_file.read_text())
        password = _read_credentials(warehouse_dir(home))["password"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None
    endpoint = Endpoint(
        state["host"], int(state["port"]), int(state["pid"]), password, Path(state["files_root"])
    )
    return endpoint if _is_warehouse_process(endpoint.pid) else None


def ensure_running(
    home: Path,
    idle_timeout_s: float = ON_DEMAND_IDLE_TIMEOUT_S,
    files_root: Path | None = None,
) -> Endpoint:
    """Return the running endpoint for `home`, starting it first if needed. Its `file()`
    reads the home's landing zone, or `files_root` when given (tests share one warehouse
    among many homes under one directory)."""
    endpoint = running_endpoint(home)
    if endpoint:
        return endpoint
    directory = warehouse_dir(home)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _start_lock(directory):
        busy = _live_server(home)
        if busy is not None:
            return _answering(busy, directory)
        endpoint = _start(directory, idle_timeout_s, files_root or landing_dir(home))
        _STARTED_HERE.add(Path(home))
        return endpoint


def _answering(endpoint: Endpoint, directory: Path) -> Endpoint:
    """Wait for a live server that did not answer at once; never start a second one beside
    it (it could not take the port, and its clean-up would hide the live server)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers_ping(endpoint):
        if not _is_warehouse_process(endpoint.pid):
            raise WarehouseError(
                f"the embedded warehouse (pid {endpoint.pid}) exited; see "
                f"{directory / 'server.log'}, then run the command again"
            )
        if time.monotonic() > deadline:
            raise WarehouseError(
                f"the embedded warehouse (pid {endpoint.pid}) is running but did not answer "
                f"within {START_TIMEOUT_S:.0f}s; it may be busy with a heavy query (see "
                f"{directory / 'server.log'}); try again, or stop it with "
                f"`billing warehouse stop`"
            )
        time.sleep(0.05)
    return endpoint


#: Warehouses this process started, by home: a command that fails stops what it started.
_STARTED_HERE: set[Path] = set()


def stop_if_started_here(home: Path) -> None:
    """Stop the home's warehouse if this process started it (on demand) and failed: a
    failed first command on a new home leaves nothing running."""
    if Path(home) in _STARTED_HERE:
        stop(home)
        _STARTED_HERE.discard(Path(home))


def credentials(home: Path) -> dict[str, str]:
    """The user and password of the home's embedded warehouse (made on first use)."""
    directory = warehouse_dir(home)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _start_lock(directory):
        return _read_credentials(directory)


def _read_credentials(directory: Path) -> dict[str, str]:
    path = directory / "credentials.json"
    if not path.exists():
        text = json.dumps({"user": USER, "password": secrets.token_urlsafe(32)})
        descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(path.with_suffix(".tmp"), path)
    return json.loads(path.read_text())


def stop(home: Path) -> bool:
    """Stop the endpoint of `home`; True if one was running."""
    endpoint = _live_server(home)
    if endpoint is None:
        return False
    os.kill(endpoint.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_warehouse_process(endpoint.pid):
        if time.monotonic() > deadline:
            os.kill(endpoint.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    (warehouse_dir(home) / "server.json").unlink(missing_ok=True)
    return True


def _start(directory: Path, idle_timeout_s: float, files_root: Path) -> Endpoint:
    state_file = directory / "server.json"
    state_file.unlink(missing_ok=True)
    log_path = directory / "server.log"
    _read_credentials(directory)
    port = _port(directory)
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
        "--credentials",
        str(directory / "credentials.json"),
        "--files-root",
        str(files_root),
        "--port",
        str(port),
        "--memory-limit-mb",
        str(memory_limit_mb()),
    ]
    with open(log_path, "ab") as log:
        # A new session: the server outlives the command that started it and is not hit
        # by the terminal's Ctrl-C meant for that command. It runs from its own directory,
        # never the user's (a stray `typing.py` there would shadow the standard library).
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=directory,
            env={"JE_MALLOC_CONF": ALLOCATOR_CONF, **os.environ, "PYTHONSAFEPATH": "1"},
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


def memory_limit_mb() -> int:
    """`BILLING_WAREHOUSE_MEMORY_MB`, else `DEFAULT_MEMORY_LIMIT_MB`; 0 is no limit."""
    text = os.environ.get("BILLING_WAREHOUSE_MEMORY_MB", "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT_MB
    if not text.isdigit():
        raise WarehouseError(
            f"BILLING_WAREHOUSE_MEMORY_MB={text!r}: expected a whole number of MiB, such as "
            f"1400 (0 for no limit)"
        )
    return int(text)


def _port(directory: Path) -> int:
    """`BILLING_WAREHOUSE_PORT`, else the port kept from the first start, else a free one
    (then kept): tools pointed at the warehouse once keep finding it."""
    if os.environ.get("BILLING_WAREHOUSE_PORT"):
        return int(os.environ["BILLING_WAREHOUSE_PORT"])
    kept = directory / "port"
    if kept.exists():
        return int(kept.read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kept.write_text(str(port))
    return port


def _start_failure(directory: Path, log_path: Path) -> str:
    """Say plainly why the server exited; chDB's own message hides the usual cause."""
    tail = log_path.read_text(errors="replace")[-4000:]
    if "Address already in use" in tail:
        return (
            f"the embedded warehouse cannot listen on port {_port(directory)}: another "
            f"program uses it; stop that program, or choose another port with "
            f"BILLING_WAREHOUSE_PORT (the port is kept in {directory / 'port'})"
        )
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


def _is_warehouse_process(pid: int) -> bool:
    """Alive and running our server module: a pid kept in a stale state file may since
    belong to another program. A zombie child of ours counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ")[-1][:1] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"billing_dagster.warehouse.server" in cmdline.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


def _answers_ping(endpoint: Endpoint) -> bool:
    try:
        url = f"http://{endpoint.host}:{endpoint.port}/ping"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
