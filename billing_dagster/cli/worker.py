"""A billing home's warm worker: loads the CLI, the Dagster definitions, Great Expectations
and the parsed dbt project once, then forks a copy of itself for each command a client
(`client.py`) sends.

Each command runs in a process of its own, as it would without the worker: its own Dagster
run records, locks and warehouse sessions, the client's arguments, environment, working
directory and standard streams. The worker itself holds no instance, connection or thread
when it forks, serves only its own user, and leaves after `IDLE_TIMEOUT_S` without a
command, when the code it loaded changes, or on `billing warehouse stop`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import NoReturn

from billing_dagster.cli.client import (
    MAX_MESSAGE,
    code_digest,
    command_name,
    environment_digest,
    worker_address,
)

IDLE_TIMEOUT_S = 900.0


def serve(home: Path, environment: str) -> int:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind(worker_address(home))
    except OSError:  # another worker serves this home
        return 0
    # Commands sent while the worker warms up wait in the backlog, not in a second start-up.
    listener.listen(64)
    code = code_digest()
    unable = _warm(home)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished commands
    listener.settimeout(IDLE_TIMEOUT_S)
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return 0
        with connection:
            request, descriptors = _request(connection)
            if request is None:
                continue
            if request.get("stop") or request.get("code") != code:
                listener.close()  # the address is free before the client starts another
                _close(descriptors)
                connection.send(json.dumps({"declined": "the worker is leaving"}).encode())
                return 0
            declined = unable or (
                "another environment" if environment_digest(request["env"]) != environment else ""
            )
            if declined:
                _close(descriptors)
                connection.send(json.dumps({"declined": declined}).encode())
                continue
            pid = os.fork()
            if pid == 0:
                _become_command(listener, connection, descriptors, request)
            _close(descriptors)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            print(f"{stamp} pid {pid}: {command_name(request['argv'])}", flush=True)


def logged_commands(home: Path) -> list[tuple[int, str]]:
    """(pid, command name) of each command the home's workers forked, from their log lines
    `<date> <time> pid <pid>: <command>`."""
    log = home / "worker.log"
    found = re.findall(r"^\S+ \S+ pid (\d+): (.*)$", log.read_text() if log.exists() else "", re.M)
    return [(int(pid), command) for pid, command in found]


def _request(connection: socket.socket) -> tuple[dict | None, list[int]]:
    """The client's request and its standard streams; None for a connection of another
    user, or one that sent no request (a probe, a client that died)."""
    if not _same_user(connection):
        return None, []
    try:
        message, descriptors, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 3)
    except OSError:
        return None, []
    try:
        request = json.loads(message)
        if request.get("stop") or {"argv", "env", "cwd", "code"} <= request.keys():
            return request, descriptors
    except ValueError:
        pass
    _close(descriptors)
    return None, []


def _close(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


def _warm(home: Path) -> str:
    """Import and build what every command needs, in the state a command would reach.
    Returns why it could not (then the worker declines every command until it leaves, so
    each does not start another worker that fails the same way), or ""."""
    try:
        from billing_dagster.cli import main  # noqa: F401  (the CLI and what it imports)
        from billing_dagster.cli.runs import warm_definitions
        from billing_dagster.defs.metering.dbt_run import parse_ahead

        definitions = warm_definitions(home)
        import great_expectations  # noqa: F401  (the schema check's library, ~7 s to import)

        resources = definitions.resources
        parse_ahead(resources["dbt"], resources["clickhouse"], home)
    except Exception as error:
        traceback.print_exc()
        return f"the worker could not start: {type(error).__name__}: {error}"
    finally:
        logging.shutdown()  # no handler of the warm-up writes from a command's process
    return ""


def _same_user(connection: socket.socket) -> bool:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    _pid, uid, _gid = (int.from_bytes(credentials[i : i + 4], sys.byteorder) for i in (0, 4, 8))
    return uid == os.getuid()


def _become_command(listener, connection, descriptors: list[int], request: dict) -> NoReturn:
    code = 1
    try:
        listener.close()
        code = _run_command(connection, descriptors, request)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _run_command(connection: socket.socket, descriptors: list[int], request: dict) -> int:
    """In the forked process: become the client's command, run it, report its exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for number, descriptor in enumerate(descriptors):
        os.dup2(descriptor, number)
        os.close(descriptor)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  (the process's own streams)
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["billing", *request["argv"]]
    connection.send(json.dumps({"pid": os.getpid()}).encode())
    threading.Thread(target=_die_with_client, args=(connection,), daemon=True).start()
    from billing_dagster.cli.main import main

    try:
        code = main(request["argv"])
    except SystemExit as exit:  # argparse: --help, or arguments it refuses
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    connection.send(json.dumps({"exit": code}).encode())
    return code


def _die_with_client(connection: socket.socket) -> None:
    """A client killed (even by SIGKILL) closes the connection: its command dies with it,
    as it would have run in that process."""
    if not connection.recv(1):
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing_dagster.cli.worker")
    parser.add_argument("--home", required=True)
    parser.add_argument("--environment", required=True, help="the client's environment_digest")
    args = parser.parse_args(argv)
    home = Path(args.home)
    os.umask(0o077)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = os.open(home / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    return serve(home, args.environment)


if __name__ == "__main__":
    sys.exit(main())
