"""A scratch warehouse: the real one seen through another catalog, for a dry run.

A scratch database holds empty catalog tables that take the candidate catalog, a view of
every other table of the real database, and the real database's dbt views re-created over
those. Rating and billing code run on it unchanged, so what they compute is what they will
compute once the candidate is applied; nothing is written to the real database, and the
scratch one is dropped afterwards (or, after a kill, by the next dry run).

dbt's tables (the daily usage) are read from the real database as they are: they depend on
the events and the metrics, so a candidate must keep the metrics in force, as a plan
migration does (it changes subscriptions only).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from billing_dagster.catalog.model import Catalog
from billing_dagster.catalog.store import apply_catalog

#: Scratch databases are named after the real one with this infix and a random suffix.
_INFIX = "__scratch_"


@contextmanager
def scratch_warehouse(client: Client, database: str, catalog: Catalog) -> Iterator[str]:
    """The name of a scratch database in which `catalog` is the catalog in force. Callers
    hold the home's catalog lock: it makes leftovers of killed dry runs safe to drop."""
    _drop_leftovers(client, database)
    scratch = f"{database}{_INFIX}{uuid.uuid4().hex[:12]}"
    client.command(f"CREATE DATABASE `{scratch}` ENGINE = Atomic")
    try:
        _mirror(client, database, scratch)
        apply_catalog(client, scratch, catalog, "dry run", "")
        yield scratch
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{scratch}` SYNC")


def _drop_leftovers(client: Client, database: str) -> None:
    for (name,) in client.query(
        "SELECT name FROM system.databases WHERE startsWith(name, {prefix:String})",
        parameters={"prefix": f"{database}{_INFIX}"},
    ).result_rows:
        client.command(f"DROP DATABASE IF EXISTS `{name}` SYNC")


def _mirror(client: Client, database: str, scratch: str) -> None:
    tables = client.query(
        "SELECT name, engine, create_table_query FROM system.tables "
        "WHERE database = {db:String} ORDER BY name",
        parameters={"db": database},
    ).result_rows
    views = []
    for name, engine, create in tables:
        if engine == "View":
            views.append(_in_scratch(create, database, scratch))
        elif name.startswith("catalog_"):
            client.command(f"CREATE TABLE `{scratch}`.`{name}` AS `{database}`.`{name}`")
        else:
            _view_of_table(client, database, scratch, name)
    _create_views(client, views)


def _view_of_table(client: Client, database: str, scratch: str, name: str) -> None:
    """A view of the real table, unless it is gone since it was listed (the staging table of
    an event load that just finished: nothing the dry run reads)."""
    try:
        client.command(f"CREATE VIEW `{scratch}`.`{name}` AS SELECT * FROM `{database}`.`{name}`")
    except DatabaseError:
        if client.command(f"EXISTS TABLE `{database}`.`{name}`"):
            raise


def _in_scratch(create: str, database: str, scratch: str) -> str:
    """A view's statement with its own and its sources' database replaced by `scratch`."""
    qualified = re.compile(rf"(?<![\w.`])(`{re.escape(database)}`|{re.escape(database)})\.")
    return qualified.sub(f"`{scratch}`.", create)


def _create_views(client: Client, statements: list[str]) -> None:
    """Create the views, each after the views it reads (found by trying: a view over one not
    yet created fails, and is tried again in the next round)."""
    pending = statements
    while pending:
        failed: list[tuple[str, DatabaseError]] = []
        for statement in pending:
            try:
                client.command(statement)
            except DatabaseError as error:
                failed.append((statement, error))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [statement for statement, _ in failed]
