"""DuckDB: the events read with its typed JSON reader, then the shared SQL of `pricing.STEPS`."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import duckdb

from benchmarks.compare.pricing import CATALOG_TABLES, STEPS, catalog_rows
from benchmarks.compare.workload import load_catalog

COLUMNS = (
    "{event_id: 'VARCHAR', customer_id: 'VARCHAR', event_name: 'VARCHAR', "
    "timestamp: 'VARCHAR', properties: 'JSON', replaces: 'VARCHAR', void: 'BOOLEAN'}"
)


def run(events: Path, catalog_path: Path, work: Path, timed) -> dict[str, Decimal]:
    with timed("connect and load the catalog"):
        db = duckdb.connect(str(work / "bench.duckdb"))
        db.execute(f"SET threads = {os.cpu_count()}")
        db.execute(f"SET temp_directory = '{work / 'tmp'}'")
        for name, rows in catalog_rows(load_catalog(catalog_path)).items():
            db.execute(f"CREATE TABLE {name} ({CATALOG_TABLES[name]})")
            if rows:  # one statement: executemany is slow in DuckDB
                values = ", ".join(f"({', '.join(map(literal, row))})" for row in rows)
                db.execute(f"INSERT INTO {name} VALUES {values}")
    with timed("load the events (read_json)"):
        # Insertion order is preserved, so row_number() is the line number.
        db.execute(
            f"""CREATE TABLE events AS
            SELECT row_number() OVER () AS line_no, customer_id, event_id, event_name,
                   CAST(timestamp AS TIMESTAMPTZ) AS ts, properties AS props, replaces,
                   coalesce(void, false) AS is_void
            FROM read_json('{events}', format = 'newline_delimited', columns = {COLUMNS})"""
        )
    for step, sql in STEPS.items():
        with timed(step):
            db.execute(sql)
    totals = db.execute("SELECT customer_id, total FROM invoice_totals").fetchall()
    db.close()
    return {customer: Decimal(total) for customer, total in totals}


def literal(value) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"
