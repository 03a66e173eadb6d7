"""The embedded warehouse: one process that owns a chDB data directory and speaks
ClickHouse's HTTP interface on 127.0.0.1.

chDB allows one process per data directory, while the CLI, Dagster's run workers, dbt and
analysts' tools are separate processes. So exactly one process owns the directory and all
of them connect to it with their ordinary ClickHouse clients (DESIGN.md §2). Run it with
`python -m billing_dagster.warehouse.server --data DIR --state FILE`; `embedded.py` manages
its lifecycle.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from billing_dagster.warehouse import guard, sql_text
from billing_dagster.warehouse.body import decode_body, split_multipart

os.environ["TZ"] = "UTC"  # the engine reads its server timezone from here
import chdb

#: Reported as the server version; clients compare it numerically, so digits only.
SERVER_VERSION = "26.9.2.1"

#: URL parameters that belong to the HTTP interface, not to query settings.
HTTP_PARAMETERS = {
    "query",
    "database",
    "default_format",
    "session_id",
    "session_timeout",
    "session_check",
    "query_id",
    "user",
    "password",
    "quota_key",
    "compress",
    "decompress",
    "enable_http_compression",
    "wait_end_of_query",
    "buffer_size",
    "client_protocol_version",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "readonly",
    "http_response_buffer_size",
    "http_wait_end_of_query",
    "cancel_http_readonly_queries_on_client_close",
}

ERROR_CODE = re.compile(r"Code: (\d+)\.")
DEFAULT_SESSION_TIMEOUT_S = 60.0


@dataclass
class Session:
    """A chDB connection with its own SET, USE and temporary tables, like a server session."""

    connection: chdb.state.sqlitelike.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    timeout_s: float = DEFAULT_SESSION_TIMEOUT_S
    last_used: float = field(default_factory=time.monotonic)


#: Formats whose output wraps the rows (column metadata, statistics): streamed, a result with
#: no rows would send nothing at all, so they are sent whole. Clients read a query's columns
#: with `LIMIT 0 FORMAT JSON` (dbt's contract checks, through clickhouse-connect).
_ENVELOPE_FORMATS = frozenset({"JSON", "JSONCompact", "JSONStrings", "JSONCompactStrings", "XML"})


class QueryError(Exception):
    """An error to return to the client the way ClickHouse does: code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def as_query_error(error: Exception) -> QueryError:
    """The engine's messages start with `Code: N.`; keep that code for the client."""
    message = str(error)
    match = ERROR_CODE.search(message)
    if match is None:
        return QueryError(1000, message)
    return QueryError(int(match.group(1)), message[match.start() :])  # drop chDB's prefix


#: Rows of an insert's blocks, each sorted and written as one part: ClickHouse's default (1 Mi
#: rows) made loading 10 M events peak at 2.4 GiB; half of it, at 1.7 GiB in the same time.
INSERT_BLOCK_ROWS = 512 << 10

#: Query memory past which an aggregation spills to disk when no limit is set. Without it, an
#: aggregation over every key of a file grows with the file: the loader's count of repeated
#: keys took 633 MiB at 10 M lines, and the server peaked at 2.9 GiB loading 30 M events.
AGGREGATION_SPILL_BYTES = 400 << 20


#: Joins run in the order the SQL writes them, the small side on the right. ClickHouse's
#: reordering of inner joins built its hash table from a month's daily usage instead of the
#: subscriptions joined to it: reading the rated usage of 30 M events took 1.6 GiB, 0.4 GiB
#: in the written order, in the same time (docs/benchmarks.md).
JOINS_AS_WRITTEN = {"query_plan_optimize_join_order_limit": "0"}


#: Background merges run at most as many at once as the engine has merge threads (two),
#: not twice that: four merges of the event store held 0.5-1 GiB beside the insert into
#: `raw_events` at 100 M events. (The engine's soft limit on merges' memory does not apply
#: here: it reads merges' memory from a tracker this engine leaves at zero.)
MERGES_PER_THREAD = 1


def engine_settings(memory_limit_mb: int) -> str:
    """The engine's server settings, as its connection string's parameters."""
    settings = {"background_merges_mutations_concurrency_ratio": MERGES_PER_THREAD}
    if memory_limit_mb:
        settings["max_server_memory_usage"] = memory_limit_mb << 20
    return "?" + "&".join(f"{name}={value}" for name, value in settings.items())


def session_settings(memory_limit_mb: int) -> dict[str, str]:
    """Session defaults: joins as written (JOINS_AS_WRITTEN), inserts sort blocks of
    INSERT_BLOCK_ROWS and aggregations spill past AGGREGATION_SPILL_BYTES. Under a memory
    limit, sorts and aggregations spill to disk past a fifth of it each, joins use an algorithm
    that can spill where ClickHouse can switch to one, and inserts sort blocks of 64 Ki rows:
    at 1400 MiB, metering a month of 10 M events peaked at 1.5 GiB instead of 3.1 GiB, in
    about 1.6 times its time (docs/benchmarks.md)."""
    if not memory_limit_mb:
        return {
            **JOINS_AS_WRITTEN,
            "max_bytes_before_external_group_by": str(AGGREGATION_SPILL_BYTES),
            "max_insert_block_size": str(INSERT_BLOCK_ROWS),
            "min_insert_block_size_rows": str(INSERT_BLOCK_ROWS),
        }
    spill = str((memory_limit_mb << 20) // 5)
    return {
        **JOINS_AS_WRITTEN,
        "max_bytes_before_external_group_by": spill,
        "max_bytes_before_external_sort": spill,
        "join_algorithm": "auto",
        "max_insert_block_size": "65536",
        "min_insert_block_size_rows": "65536",
    }


class Warehouse:
    """Owns the chDB data directory and runs statements for HTTP requests."""

    def __init__(
        self, data_dir: Path, files_link: Path, files_root: Path, memory_limit_mb: int = 0
    ):
        self.data_dir = data_dir
        self.files_link, self.files_root = files_link, files_root
        self.tmp_dir = data_dir / "http_inserts"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        # The first connection starts the engine and holds it open for the others.
        self._root = chdb.connect(f"{data_dir}{engine_settings(memory_limit_mb)}")
        self._session_settings = session_settings(memory_limit_mb)
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions.values():
                session.connection.close()
            self._sessions.clear()
        self._root.close()

    def session(self, session_id: str | None, timeout_s: float | None) -> Session:
        """The named session, created on first use; or a fresh one for a sessionless query."""
        if not session_id:
            return Session(self._connect())
        with self._sessions_lock:
            self._expire_sessions()
            session = self._sessions.get(session_id)
            if session is None:
                session = Session(self._connect())
                self._sessions[session_id] = session
            if timeout_s is not None:
                session.timeout_s = timeout_s
            session.last_used = time.monotonic()
            return session

    def _connect(self):
        connection = chdb.connect(str(self.data_dir))
        for name, value in self._session_settings.items():
            connection.query(f"SET {name} = {sql_text.quote_setting(value)}")
        return connection

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for session_id, session in list(self._sessions.items()):
            if now - session.last_used > session.timeout_s and not session.lock.locked():
                session.connection.close()
                del self._sessions[session_id]

    @contextmanager
    def execute(self, request: QueryRequest) -> Iterator[tuple[str, object]]:
        """Run one request and hold its session while the caller streams the result.

        Yields (output format, streaming result or None for an insert).
        """
        session = self.session(request.session_id, request.session_timeout_s)
        with session.lock:
            try:
                try:
                    outcome = self._execute_in(session.connection, request)
                except QueryError:
                    raise
                except Exception as error:  # chDB raises ChdbError and RuntimeError alike
                    raise as_query_error(error) from None
                yield outcome
            finally:
                if not request.session_id:
                    session.connection.close()

    def _execute_in(self, connection, request: QueryRequest) -> tuple[str, object]:
        try:
            guard.check_statement(request.statement, self.files_link, self.files_root)
            for name in request.settings:
                guard.check_setting(name)
        except guard.Refused as refused:
            raise QueryError(497, f"{refused} (ACCESS_DENIED)") from None
        for name, value in request.settings.items():
            connection.query(f"SET {name} = {sql_text.quote_setting(value)}")
        if request.database:
            connection.query(f"USE {sql_text.quote_identifier(request.database)}")
        statement = request.statement
        if request.insert_data is not None:
            return self._insert_from_body(connection, statement, request.insert_data)
        if not sql_text.is_insert_with_format(statement) and sql_text.has_several_statements(
            statement
        ):
            raise QueryError(62, "Multi-statements are not allowed (SYNTAX_ERROR)")
        output_format = sql_text.trailing_format(statement) or request.default_format
        params = request.params or None
        if sql_text.returns_rows(statement) and output_format not in _ENVELOPE_FORMATS:
            return output_format, connection.send_query(statement, output_format, params=params)
        return output_format, WholeResult(connection.query(statement, output_format, params))

    def _insert_from_body(self, connection, statement: str, data: bytes) -> tuple[str, object]:
        """`INSERT ... FORMAT x` with the rows in the body: load them through a file.

        The engine reads `FROM INFILE` natively, so the binary body never becomes a Python
        string and the statement text the client sent stays as it was, with the file named.
        It is named through `/proc/self/fd`: `FROM INFILE` expands globs, and the billing
        home's path may hold `{`, `[` or `*` (a file named by it would match nothing).
        """
        descriptor, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=".data")
        try:
            with open(descriptor, "wb", closefd=False) as spool:
                spool.write(data)
            path = f"/proc/self/fd/{descriptor}" if os.path.isdir("/proc/self/fd") else name
            connection.query(sql_text.insert_from_infile(statement, path))
        finally:
            os.close(descriptor)
            os.unlink(name)
        return "TabSeparated", None


class WholeResult:
    """A finished statement's output behind the streaming interface (DDL cannot stream)."""

    def __init__(self, result):
        self._result = result

    def fetch(self):
        result, self._result = self._result, None
        return result

    def close(self) -> None:
        self._result = None


@dataclass
class QueryRequest:
    statement: str
    default_format: str = "TabSeparated"
    database: str | None = None
    session_id: str | None = None
    session_timeout_s: float | None = None
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    insert_data: bytes | None = None


def build_request(query_params: dict[str, str], body: bytes) -> QueryRequest:
    """Interpret URL parameters and body the way ClickHouse's HTTP interface does.

    The statement is the `query` parameter followed by the body; when the statement is an
    `INSERT ... FORMAT x` given in the URL, the body holds its rows instead.
    """
    url_query = query_params.get("query", "")
    insert_data = None
    if url_query and body and sql_text.is_insert_with_format(url_query):
        statement, insert_data = url_query, body
    elif url_query and body:
        statement = url_query + "\n" + body.decode()
    elif body and (split := sql_text.split_insert_rows(body)):
        statement, insert_data = split
    else:
        statement = url_query or body.decode()
    if not statement.strip():
        raise QueryError(62, "Empty query (SYNTAX_ERROR)")
    timeout = query_params.get("session_timeout")
    return QueryRequest(
        statement=statement,
        default_format=query_params.get("default_format") or "TabSeparated",
        database=query_params.get("database") or None,
        session_id=query_params.get("session_id") or None,
        session_timeout_s=float(timeout) if timeout else None,
        settings={
            name: value
            for name, value in query_params.items()
            if name not in HTTP_PARAMETERS and not name.startswith("param_")
        },
        params={n[len("param_") :]: v for n, v in query_params.items() if n.startswith("param_")},
        insert_data=insert_data,
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    server: EndpointServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without this every reply stalls ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per query would drown the log; errors are logged in _reply_error

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        self.server.touch()
        url = urlsplit(self.path)
        if url.path in ("/ping", "/ping/"):
            return self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        if url.path not in ("", "/"):
            return self._reply(404, b"There is no handle " + url.path.encode() + b"\n", {})
        query_id = None
        try:
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id") or str(uuid.uuid4())
            if not self.server.credentials.accept(self.headers, params):
                self._read_body()  # keep the connection usable for the client's next request
                return self._reply_error(
                    query_id,
                    516,
                    "Authentication failed: password is incorrect, or there is no user with "
                    "such name; the password of the embedded warehouse is in "
                    "<home>/warehouse/credentials.json (`billing warehouse credentials`) "
                    "(AUTHENTICATION_FAILED)",
                    status=401,
                )
            body = self._read_body()
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                form, body = split_multipart(content_type, body)
                params.update(form)
            request = build_request(params, body)
            with self.server.warehouse.execute(request) as (output_format, result):
                self._reply_result(query_id, output_format, result)
        except QueryError as error:
            self._reply_error(query_id, error.code, str(error))
        except (ValueError, UnicodeDecodeError) as error:
            self._reply_error(query_id, 27, f"Cannot parse the request: {error}")
        finally:
            self.server.touch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return decode_body(raw, self.headers.get("Content-Encoding", ""))

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk

    def _headers(self, query_id: str | None, output_format: str) -> dict[str, str]:
        return {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Format": output_format,
            "X-ClickHouse-Query-Id": query_id or "",
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": "billing-embedded",
        }

    def _reply_result(self, query_id: str, output_format: str, result) -> None:
        """Stream the result in chunks so a large SELECT is never held whole in memory."""
        headers = self._headers(query_id, output_format)
        if result is None:
            return self._reply(200, b"", headers)
        try:
            first = result.fetch()
        except Exception as error:  # a query can fail after it started
            result.close()
            failure = as_query_error(error)
            return self._reply_error(query_id, failure.code, str(failure))
        headers["Transfer-Encoding"] = "chunked"
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        chunk = first
        try:
            while chunk is not None:
                data = chunk.bytes()
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                chunk = result.fetch()
        finally:
            result.close()
        self.wfile.write(b"0\r\n\r\n")

    def _reply_error(
        self, query_id: str | None, code: int, message: str, status: int = 500
    ) -> None:
        self.server.log(f"query {query_id} failed: {message.splitlines()[0][:300]}")
        if not message.startswith("Code:"):
            message = f"Code: {code}. DB::Exception: {message}"
        headers = self._headers(query_id, "TabSeparated")
        headers["X-ClickHouse-Exception-Code"] = str(code)
        self._reply(status, (message.rstrip("\n") + "\n").encode(), headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass(frozen=True)
class Credentials:
    """The one user of the embedded warehouse, as clients send it: HTTP basic auth, the
    `X-ClickHouse-User`/`X-ClickHouse-Key` headers, or `user`/`password` URL parameters."""

    user: str
    password: str

    @classmethod
    def read(cls, path: Path) -> Credentials:
        stored = json.loads(path.read_text())
        return cls(stored["user"], stored["password"])

    def accept(self, headers, params: dict[str, str]) -> bool:
        user, password = params.get("user"), params.get("password")
        if headers.get("X-ClickHouse-User") is not None:
            user, password = headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
        authorization = headers.get("Authorization", "")
        if authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except ValueError:
                return False
            user, _, password = decoded.partition(":")
        if user is None or password is None:
            return False
        # Both compared in constant time, whatever matches first.
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, warehouse: Warehouse, credentials: Credentials, port: int, log_file):
        super().__init__(("127.0.0.1", port), Handler)
        self.warehouse = warehouse
        self.credentials = credentials
        self.log_file = log_file
        self.last_request = time.monotonic()

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        print(f"{stamp} {line}", file=self.log_file, flush=True)


def stop_when_idle(server: EndpointServer, idle_timeout_s: float) -> None:
    """Shut down after `idle_timeout_s` without requests, so on-demand starts never linger."""
    while True:
        time.sleep(min(5.0, idle_timeout_s))
        if time.monotonic() - server.last_request > idle_timeout_s:
            server.log(f"idle for {idle_timeout_s:.0f}s, stopping")
            threading.Thread(target=server.shutdown, daemon=True).start()
            return


def link_files_root(files_root: Path) -> Path:
    """A path to `files_root` without glob characters: `file()` and `FROM INFILE` expand
    `*`, `?`, `{...}` and `[...]` in a path, and a billing home's path may hold them. The link
    lives in a private directory of the system's temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="billing-files-"))
    if guard.GLOB & set(str(directory)):
        raise SystemExit(f"the temporary directory {directory} has glob characters; set TMPDIR")
    link = directory / "files"
    link.symlink_to(files_root, target_is_directory=True)
    return link


def write_state(path: Path, port: int, files_root: Path) -> None:
    """Publish pid and port atomically: readers never see a half-written file."""
    tmp = path.with_suffix(".tmp")
    state = {"pid": os.getpid(), "port": port, "host": "127.0.0.1", "files_root": str(files_root)}
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="chDB data directory")
    parser.add_argument("--state", required=True, type=Path, help="pid/port file to write")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--idle-timeout", type=float, default=0, help="seconds; 0 = never")
    parser.add_argument(
        "--credentials", required=True, type=Path, help="JSON file with the user and password"
    )
    parser.add_argument(
        "--files-root",
        required=True,
        type=Path,
        help="the only directory `file()` may read (the landing zone), through the link "
        "published as `files_root` in the state file",
    )
    parser.add_argument(
        "--memory-limit-mb", type=int, default=0, help="the engine's memory limit; 0 = none"
    )
    args = parser.parse_args(argv)

    os.umask(0o077)  # the data directory and every file in it are the owner's alone
    log_file = sys.stderr
    args.data, args.files_root = args.data.resolve(), args.files_root.resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    args.files_root.mkdir(parents=True, exist_ok=True)
    files_link = link_files_root(args.files_root)
    # Nothing of the user's current directory (a stray module, a file named like a table) is
    # ever reached from here.
    os.chdir(files_link.parent)
    tempfile.tempdir = str(args.data)
    warehouse = Warehouse(args.data, files_link, args.files_root, args.memory_limit_mb)
    server = EndpointServer(warehouse, Credentials.read(args.credentials), args.port, log_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown).start())
    if args.idle_timeout > 0:
        threading.Thread(
            target=stop_when_idle, args=(server, args.idle_timeout), daemon=True
        ).start()
    write_state(args.state, server.server_address[1], files_link)
    server.log(f"serving {args.data} on 127.0.0.1:{server.server_address[1]} pid {os.getpid()}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        warehouse.close()
        args.state.unlink(missing_ok=True)
        files_link.unlink(missing_ok=True)
        files_link.parent.rmdir()
        server.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
