"""Tables the Python side writes, each area's defined by that area (`<area>/tables.py`).

dbt owns everything derived from these (models in `dbt_project/`). Creation is idempotent,
so every entry point calls `ensure_schema` before its first statement.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts import tables as alert_tables
from billing_dagster.api import tables as api_tables
from billing_dagster.catalog import tables as catalog_tables
from billing_dagster.disputes import tables as dispute_tables
from billing_dagster.erasure import tables as erasure_tables
from billing_dagster.gateways import tables as gateway_tables
from billing_dagster.ingest import tables as ingest_tables
from billing_dagster.invoicing import tables as invoicing_tables
from billing_dagster.metering import tables as metering_tables
from billing_dagster.partners import tables as partner_tables
from billing_dagster.portal import tables as portal_tables
from billing_dagster.webhooks import tables as webhook_tables

#: Quantities: 26 integer and 12 fractional digits, exact (CONTRACT.md §3).
QUANTITY = "Decimal(38, 12)"
#: Amounts and prices: 20 fractional digits keep unit prices like 0.000002 exact.
MONEY = "Decimal(38, 20)"
#: Invoice amounts, rounded to a currency's minor unit (at most 4 decimals).
INVOICE_MONEY = "Decimal(38, 4)"

#: Each area's tables, in order (an area's statements may alter its own tables): idempotent
#: statements with `{db}` and the decimal types below (`{quantity}`, `{money}`,
#: `{invoice_money}`) to fill in.
_AREAS = (
    catalog_tables.DDL,
    ingest_tables.DDL,
    metering_tables.DDL,
    invoicing_tables.DDL,
    gateway_tables.DDL,
    api_tables.DDL,
    webhook_tables.DDL,
    alert_tables.DDL,
    portal_tables.DDL,
    partner_tables.DDL,
    erasure_tables.DDL,
    dispute_tables.DDL,
)


#: (server, database) already ensured by this process: a sensor ticking every 15 s, or a
#: command opening several clients, creates the tables once, not 27 statements each time.
_ENSURED: set[tuple[str, str]] = set()


def ensure_schema(client: Client, database: str) -> None:
    """Create the database (Atomic, so tables can be exchanged atomically) and its tables,
    once per process and warehouse."""
    key = (client.url, database)
    if key in _ENSURED:
        return
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}` ENGINE = Atomic")
    types = {"money": MONEY, "quantity": QUANTITY, "invoice_money": INVOICE_MONEY}
    for ddl in _AREAS:
        for statement in ddl.format(db=f"`{database}`", **types).split(";"):
            if statement.strip():
                client.command(statement)
    _ENSURED.add(key)
