"""`billing` as typed: the command runs in a copy of its home's warm worker when one is
listening, else in this process, which then starts the worker for the next command.

Most of a short command's time is start-up: importing Dagster, dbt and Great Expectations,
building the Dagster definitions and parsing the dbt project take seconds before any work.
The worker (`worker.py`) does that once per billing home and forks itself for each command,
which gets this process's arguments, environment, working directory and standard streams
(as file descriptors): it prints what it would print here, exits with the same code, gets
the Ctrl-C sent to this process, stops and goes on with it (Ctrl-Z, `fg`) and dies with
it. Nothing here imports more than the
standard library, so the client itself starts in tens of milliseconds.

`BILLING_WORKER=off` runs every command in this process and starts no worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

#: Commands that serve, or manage the processes of a home, always run in this process.
IN_PROCESS_COMMANDS = {"serve", "warehouse", "dbt"}
#: Variables that differ between two commands typed in the same shell and change nothing.
_VOLATILE_VARIABLES = {"_", "PWD", "OLDPWD", "SHLVL"}
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
#: What the worker has loaded: the package, the Dagster code location and the dbt project.
_CODE_FOLDERS = ("billing_dagster", "sensors", "schedules", "dbt_project")
_SKIPPED_FOLDERS = {"__pycache__", "target", "logs", "dbt_packages"}
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MAX_MESSAGE = 1 << 20


def main() -> None:
    argv = sys.argv[1:]
    if os.environ.get("BILLING_WORKER") == "off" or command_name(argv) in IN_PROCESS_COMMANDS:
        sys.exit(_run_here(argv))
    home = _home(argv)
    try:
        code = _run_in_worker(home, argv)
    except (ConnectionRefusedError, FileNotFoundError, WorkerDeclined):
        # No worker listens for this home, or it cannot run this command as this process
        # would (its code changed, or the environment differs): the command runs here, and
        # a worker starts for the next one (it leaves at once if another one listens).
        _start_worker(home)
        code = _run_here(argv)
    sys.exit(code)


class WorkerDeclined(Exception):
    """The worker will not run this command (the reason is the message)."""


def worker_address(home: Path) -> str:
    """An abstract Unix socket (no file, no path length limit), one per home; the worker
    serves only processes of its own user (`SO_PEERCRED`)."""
    return "\0billing-worker-" + hashlib.sha256(str(home).encode()).hexdigest()[:40]


def code_digest() -> str:
    """The code a worker loaded, by path, size and modification time of each file: an edit
    makes the worker step down for a fresh one (a stat per file, a few milliseconds)."""
    digest = hashlib.sha256(sys.version.encode())
    for folder in _CODE_FOLDERS:
        for directory, subfolders, files in os.walk(_PACKAGE_ROOT / folder):
            subfolders[:] = sorted(set(subfolders) - _SKIPPED_FOLDERS)
            for name in sorted(files):
                stat = os.stat(os.path.join(directory, name))
                digest.update(f"{directory}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def environment_digest(environment: dict[str, str]) -> str:
    """Modules may read the environment when imported: a worker serves only commands run
    with the environment it was started with."""
    kept = sorted((k, v) for k, v in environment.items() if k not in _VOLATILE_VARIABLES)
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


def command_name(argv: list[str]) -> str | None:
    """The command's name, skipping `--home DIR`; None for an option such as `--help`."""
    words = iter(argv)
    for word in words:
        if word == "--home":
            next(words, None)
        elif not word.startswith("--home="):
            return None if word.startswith("-") else word
    return None


def _home(argv: list[str]) -> Path:
    """`--home`, else `BILLING_HOME`, else `./.billing` (as `connection.billing_home`)."""
    explicit = None
    words = iter(argv)
    for word in words:
        if word == "--home":
            explicit = next(words, None)
        elif word.startswith("--home="):
            explicit = word.removeprefix("--home=")
    return Path(explicit or os.environ.get("BILLING_HOME") or ".billing").resolve()


def _run_here(argv: list[str]) -> int:
    from billing_dagster.cli.main import main as run

    return run(argv)


def _run_in_worker(home: Path, argv: list[str]) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.connect(worker_address(home))
        request = {
            "argv": argv,
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "code": code_digest(),
        }
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        started = _receive(connection)
        if "declined" in started:
            raise WorkerDeclined(started["declined"])
        pid = started["pid"]
        for number in FORWARDED_SIGNALS:
            signal.signal(number, lambda received, frame: os.kill(pid, received))
        signal.signal(signal.SIGTSTP, lambda received, frame: _suspend(pid))
        try:
            finished = _receive(connection)
        except ConnectionError:
            finished = {}
        if "exit" not in finished:
            print(
                f"billing: the command's process ({pid}) ended without an exit code",
                file=sys.stderr,
            )
            return 1
        return finished["exit"]


def _suspend(pid: int) -> None:
    """Ctrl-Z: the command runs in the worker's session, out of reach of the terminal's
    signals, so it is stopped with this process, and goes on when this one does (`fg`,
    `bg`)."""
    os.kill(pid, signal.SIGSTOP)
    os.kill(os.getpid(), signal.SIGSTOP)  # returns once continued
    os.kill(pid, signal.SIGCONT)


def _receive(connection: socket.socket) -> dict:
    message = connection.recv(MAX_MESSAGE)
    if not message:
        raise ConnectionError("the worker closed the connection")
    return json.loads(message)


def _start_worker(home: Path) -> None:
    """Start the home's worker in a session of its own (it outlives this command and the
    terminal's Ctrl-C); a second one started at the same time finds the address taken and
    leaves."""
    environment = environment_digest(dict(os.environ))
    worker = ["-m", "billing_dagster.cli.worker", "--home", str(home)]
    subprocess.Popen(
        [sys.executable, *worker, "--environment", environment],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONSAFEPATH": "1"},
    )


def stop_worker(home: Path) -> bool:
    """Ask the home's worker to leave; False when none was listening."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
            connection.connect(worker_address(home))
            connection.send(json.dumps({"stop": True}).encode())
            connection.recv(MAX_MESSAGE)
            return True
    except (ConnectionRefusedError, FileNotFoundError, ConnectionError):
        return False
