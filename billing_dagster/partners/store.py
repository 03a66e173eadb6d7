"""Partner statements in the warehouse: made once per finalized period, then only read.

A statement run writes its lines, then one `partner_statements` row that commits it; the
first committed run of a period is its statement for good, so a run killed before its commit
leaves nothing that counts, and two runs at once agree (the same finalized documents, the
first one stands). Partners are those of the catalog in force when the statement is made.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part
from billing_dagster.invoicing.store import finalization, latest_credit_notes, latest_invoices
from billing_dagster.partners.statements import StatementLine, statement_lines

#: The run's id, then the fields of `StatementLine` in their order.
_COLUMNS = [
    "statement_run_id",
    "partner_id",
    "period",
    "customer_id",
    "document_id",
    "document_kind",
    "for_period",
    "currency",
    "basis",
    "share",
    "amount",
]


class StatementRefused(ValueError):
    """No statement can be made for the period; the message says what to do."""


def partner_statements(client: Client, database: str, period: str) -> list[StatementLine]:
    """The period's statement lines, made now if the period has none yet."""
    lines = _committed(client, database, period)
    if lines is None:
        _make(client, database, period)
        lines = _committed(client, database, period)
    return lines


def _make(client: Client, database: str, period: str) -> None:
    if not finalization(client, database, period):
        raise StatementRefused(
            f"period {period} is not finalized: partner statements read finalized documents "
            f"only; run `billing finalize --period {period}` first"
        )
    version = latest_catalog_version(client, database)
    partners = load_catalog_part(client, database, version, "partners") if version else ()
    invoices = latest_invoices(client, database, period) or []
    notes = latest_credit_notes(client, database, period) or []
    run_id = uuid.uuid4().hex
    lines = [
        line for partner in partners for line in statement_lines(partner, period, invoices, notes)
    ]
    if lines:
        client.insert(
            f"`{database}`.partner_statement_lines",
            [[run_id, *(getattr(line, c) for c in _COLUMNS[1:])] for line in lines],
            column_names=_COLUMNS,
        )
    client.insert(
        f"`{database}`.partner_statements",
        [[period, run_id, version or 0, datetime.now(UTC)]],
        column_names=["period", "statement_run_id", "catalog_version", "made_at"],
    )


def _committed(client: Client, database: str, period: str) -> list[StatementLine] | None:
    """The lines of the period's first committed statement run; None if it has none."""
    db = f"`{database}`"
    runs = client.query(
        f"SELECT argMin(statement_run_id, made_at) FROM {db}.partner_statements "
        f"WHERE period = {{period:String}} HAVING count() > 0",
        parameters={"period": period},
    ).result_rows
    if not runs:
        return None
    rows = client.query(
        f"SELECT {', '.join(_COLUMNS[1:])} FROM {db}.partner_statement_lines "
        f"WHERE period = {{period:String}} AND statement_run_id = {{run:String}} "
        f"ORDER BY partner_id, customer_id, document_kind, document_id, for_period",
        parameters={"period": period, "run": runs[0][0]},
    ).result_rows
    return [StatementLine(*row) for row in rows]
