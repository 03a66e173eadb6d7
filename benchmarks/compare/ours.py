"""Ours: the real pipeline through its command line, on a fresh billing home.

`billing catalog apply`, `billing ingest FILE` (landing, the Dagster ingest job, metering of
the touched days), `billing bill --period` (metering, dbt rating, the Dagster invoices asset)
and `billing invoices --period --format json`, each a process of its own as a user runs
them. With `profile`, each command runs under pyinstrument (a text report per command in
the work directory) and the warehouse's `system.query_log` is summarized before it stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from benchmarks.compare.workload import PERIOD

BILLING = [str(Path(sys.executable).parent / "billing")]


def run(events: Path, catalog: Path, work: Path, timed, profile: bool = False) -> dict:
    home = work / "home"
    env = os.environ | {"BILLING_HOME": str(home)}
    env.pop("CLICKHOUSE_HOST", None)
    log = (work / "billing.log").open("ab")

    def billing(step: str, *args: str) -> str:
        command = [*BILLING, *args]
        if profile:
            report = work / f"profile-{step.split()[0]}.txt"
            command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report)]
            command += [*BILLING, *args]
        with timed(step):
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=log)
        if done.returncode:
            log.flush()
            said = (work / "billing.log").read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(
                f"billing {' '.join(args)} exited {done.returncode}; the end of its log:\n"
                + "\n".join([*said, done.stdout.decode(errors="replace")])
            )
        return done.stdout.decode()

    try:
        billing("catalog apply", "catalog", "apply", str(catalog))
        billing("ingest (land, load, meter)", "ingest", str(events))
        billing("bill (meter, rate, invoice)", "bill", "--period", PERIOD)
        invoices = json.loads(
            billing("invoices --format json", "invoices", "--period", PERIOD, "--format", "json")
        )
        if profile:
            (work / "query_log.txt").write_text(query_log(home))
    finally:
        subprocess.run([*BILLING, "warehouse", "stop"], env=env, stdout=log, stderr=log)
        log.close()
    return {invoice["customer_id"]: Decimal(invoice["total"]) for invoice in invoices}


def query_log(home: Path) -> str:
    """The warehouse's slowest statements of the run: from `system.query_log` when the server
    keeps one (a ClickHouse server does; the embedded chDB one does not), else from the SQL
    timings in the dbt logs of the run (the metering and rating statements)."""
    import re

    from benchmarks.ingest_and_metering import _sql_label
    from billing_dagster.warehouse.connection import ClickHouseSettings

    client = ClickHouseSettings.resolve(home).client()
    if int(client.command("SELECT count() FROM system.tables WHERE name = 'query_log'")):
        client.command("SYSTEM FLUSH LOGS")
        rows = client.query(
            """SELECT sum(query_duration_ms) / 1000, any(query) FROM system.query_log
               WHERE type = 'QueryFinish' GROUP BY normalized_query_hash
               ORDER BY 1 DESC LIMIT 15"""
        ).result_rows
    else:
        rows, pending = [], None
        for log in sorted((home / "dbt").glob("*/dbt.log")):
            for line in log.read_text(errors="replace").splitlines():
                try:
                    message = json.loads(line)["info"]["msg"]
                except (ValueError, KeyError, TypeError):  # a text log line, or a bare number
                    continue
                if message.startswith("dbt_clickhouse adapter: On "):
                    pending = f"{log.parent.name}: {_sql_label(message.split(': ', 2)[-1])}"
                elif pending and (done := re.search(r"SQL status: \w+ in ([0-9.]+) sec", message)):
                    rows.append((float(done.group(1)), pending))
                    pending = None
        rows = sorted(rows, reverse=True)[:15]
    return "\n".join(f"{seconds:8.2f} s  {' '.join(sql.split())[:200]}" for seconds, sql in rows)
