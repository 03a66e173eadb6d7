"""PostgreSQL 15: a throw-away cluster, COPY, a typed table with an index, the shared SQL.

The cluster is created by `initdb` in a temporary directory (as the `postgres` user when run
as root: the server refuses to run as root), listens on a free loopback port only, and is
stopped and removed when the job ends, whatever happens. Settings are those a careful user
gives a one-off analytical job on this machine: memory sized from the machine's RAM, no WAL
for the staging tables (UNLOGGED), parallel workers for both cores.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg

from benchmarks.compare.pricing import CATALOG_TABLES, STEPS, catalog_rows
from benchmarks.compare.workload import load_catalog

BIN = Path("/usr/lib/postgresql/15/bin")


def ensure_installed() -> None:
    """Debian's postgresql-15 server binaries, installed when missing (we are root)."""
    if (BIN / "initdb").exists():
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql-15"], check=True, env=env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings() -> dict[str, str]:
    ram_mb = psutil.virtual_memory().total >> 20
    cores = os.cpu_count() or 1
    return {
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": "''",
        "shared_buffers": f"{ram_mb // 4}MB",
        "effective_cache_size": f"{ram_mb // 2}MB",
        # One query at a time: a few sorts and hashes may each take this much.
        "work_mem": f"{max(64, ram_mb // 16)}MB",
        "hash_mem_multiplier": "2",
        "maintenance_work_mem": f"{max(64, ram_mb // 16)}MB",
        "max_parallel_workers_per_gather": str(cores),
        "max_parallel_maintenance_workers": str(cores),
        "max_worker_processes": str(cores + 2),
        "wal_level": "minimal",
        "max_wal_senders": "0",
        "max_wal_size": "8GB",
        "synchronous_commit": "off",
        "jit": "off",
    }


@contextlib.contextmanager
def cluster(work: Path, timed) -> Iterator[str]:
    """A running cluster in `work/pg`; yields its connection string, then removes it."""
    data = work / "pg"
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    with timed("initdb and start the server"):
        ensure_installed()
        data.mkdir(parents=True)
        shutil.chown(work, user)
        shutil.chown(data, user)
        subprocess.run(
            [
                *as_user,
                BIN / "initdb",
                "-D",
                data,
                "-U",
                "bench",
                "--auth=trust",
                "--locale=C",
                "-E",
                "UTF8",
            ],
            **quiet,
        )
        port = free_port()
        options = f"-p {port} " + " ".join(f"-c {k}={v}" for k, v in settings().items())
        log = data / "server.log"
        subprocess.run(
            [*as_user, BIN / "pg_ctl", "-D", data, "-l", log, "-w", "-o", options, "start"],
            **quiet,
        )
    try:
        yield f"host=127.0.0.1 port={port} user=bench dbname=postgres"
    finally:
        subprocess.run(
            [*as_user, BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(data, ignore_errors=True)


def run(events: Path, catalog_path: Path, work: Path, timed) -> dict[str, Decimal]:
    with cluster(work, timed) as dsn, psycopg.connect(dsn, autocommit=True) as db:
        with timed("load the catalog"):
            for name, rows in catalog_rows(load_catalog(catalog_path)).items():
                db.execute(f"CREATE TABLE {name} ({CATALOG_TABLES[name]})")
                with db.cursor().copy(f"COPY {name} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                db.execute(f"ANALYZE {name}")
        with timed("COPY the events"):
            # Lines as jsonb, in file order; \x01 and \x02 never occur in the file.
            db.execute(
                "CREATE UNLOGGED TABLE raw (line_no bigint GENERATED ALWAYS AS IDENTITY, doc jsonb)"
            )
            os.chmod(events, 0o644)
            db.execute(
                f"COPY raw (doc) FROM '{events}' WITH (FORMAT csv, QUOTE e'\\x01', "
                "DELIMITER e'\\x02')"
            )
        with timed("typed events table, index, ANALYZE"):
            db.execute(
                """CREATE UNLOGGED TABLE events AS
                SELECT line_no, doc ->> 'customer_id' AS customer_id,
                       doc ->> 'event_id' AS event_id, doc ->> 'event_name' AS event_name,
                       (doc ->> 'timestamp')::timestamptz AS ts, doc -> 'properties' AS props,
                       doc ->> 'replaces' AS replaces,
                       coalesce((doc ->> 'void')::boolean, false) AS is_void
                FROM raw"""
            )
            db.execute("DROP TABLE raw")
            db.execute("CREATE INDEX ON events (customer_id, event_id, line_no)")
            db.execute("ANALYZE events")
        for step, sql in STEPS.items():
            with timed(step):
                db.execute(sql.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1))
                db.execute(f"ANALYZE {sql.split()[2]}")
        totals = db.execute("SELECT customer_id, total FROM invoice_totals").fetchall()
    return {customer: Decimal(total) for customer, total in totals}
