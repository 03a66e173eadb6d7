"""The sync ledger: what each gateway holds of our customers, documents and lines.

Append-only tables in the warehouse; the latest row of a key is in force. A row is recorded
after the gateway confirmed the step, so the ledger never claims more than the gateway holds;
what it does not know yet (a response lost, a run killed) the sync finds by looking the object
up on the gateway before creating it. That look-up makes the ledger safe to write in batches:
rows are buffered and inserted by `flush()` (every few documents), so a killed run loses at
most the rows of its last batch, and the next run finds those objects on the gateway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import CURRENCY_MINOR_UNITS

#: Document states: on the gateway as a draft, finalized and sent, failed (with the reason),
#: voided. A failed document is taken up again where the gateway has it.
CREATED, SYNCED, FAILED, VOIDED = "created", "synced", "failed", "voided"


@dataclass(frozen=True)
class LedgerEntry:
    document_kind: str  # "invoice" | "credit_note"
    document_id: str
    period: str
    customer_id: str
    gateway_document_id: str
    state: str
    currency: str
    total: Decimal
    gateway_total: Decimal | None = None
    message: str = ""


def from_minor(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-CURRENCY_MINOR_UNITS[currency])


def holding_gateways(client: Client, database: str, document_ids: list[str]) -> dict[str, str]:
    """The gateway that holds each of these documents (created there, whatever its state);
    documents on none are left out."""
    rows = client.query(
        f"SELECT document_id, argMax(gateway, recorded_at) "
        f"FROM `{database}`.gateway_sync_documents "
        f"WHERE document_id IN {{ids:Array(String)}} AND gateway_document_id != '' "
        f"GROUP BY document_id",
        parameters={"ids": document_ids},
    ).result_rows
    return dict(rows)


_ENTRY_COLUMNS = [
    "document_kind",
    "document_id",
    "period",
    "customer_id",
    "gateway_document_id",
    "state",
    "currency",
    "total",
    "gateway_total",
    "message",
]


_LINE_COLUMNS = [
    "gateway",
    "document_id",
    "line_no",
    "kind",
    "gateway_line_id",
    "amount",
    "recorded_at",
]


class SyncLedger:
    """The ledger of one gateway in one warehouse database."""

    def __init__(self, client: Client, database: str, gateway: str):
        self.client, self.db, self.gateway = client, f"`{database}`", gateway
        self._last_stamp = 0.0
        self._pending: dict[str, tuple[list[str], list[list]]] = {}

    def _buffer(self, table: str, columns: list[str], rows: list[list]) -> None:
        self._pending.setdefault(table, (columns, []))[1].extend(rows)

    def flush(self) -> None:
        """Insert every buffered row (one insert per table)."""
        pending, self._pending = self._pending, {}
        for table, (columns, rows) in pending.items():
            self.client.insert(f"{self.db}.{table}", rows, column_names=columns)

    def _now(self) -> datetime:
        """Strictly increasing within the process, so the latest row of a key is unique."""
        stamp = max(time.time(), self._last_stamp + 1e-6)
        self._last_stamp = stamp
        return datetime.fromtimestamp(stamp, UTC)

    # -- customers --------------------------------------------------------------------

    def customers(self) -> dict[str, str]:
        rows = self.client.query(
            f"SELECT customer_id, argMax(gateway_customer_id, recorded_at) "
            f"FROM {self.db}.gateway_customers WHERE gateway = {{gateway:String}} "
            f"GROUP BY customer_id",
            parameters={"gateway": self.gateway},
        ).result_rows
        return dict(rows)

    def record_customer(self, customer_id: str, gateway_customer_id: str) -> None:
        self._buffer(
            "gateway_customers",
            ["gateway", "customer_id", "gateway_customer_id", "recorded_at"],
            [[self.gateway, customer_id, gateway_customer_id, self._now()]],
        )

    # -- documents --------------------------------------------------------------------

    def entries(
        self, document_ids: list[str] | None = None, period: str | None = None
    ) -> dict[str, LedgerEntry]:
        """The latest entry of each document (of `document_ids`, of `period`, or all)."""
        where, parameters = ["gateway = {gateway:String}"], {"gateway": self.gateway}
        if document_ids is not None:
            where.append("document_id IN {ids:Array(String)}")
            parameters["ids"] = document_ids
        if period is not None:
            where.append("period = {period:String}")
            parameters["period"] = period
        latest = ", ".join(f"argMax({c}, recorded_at)" for c in _ENTRY_COLUMNS[2:])
        rows = self.client.query(
            f"SELECT document_kind, document_id, {latest} FROM {self.db}.gateway_sync_documents "
            f"WHERE {' AND '.join(where)} GROUP BY document_kind, document_id",
            parameters=parameters,
        ).result_rows
        return {row[1]: LedgerEntry(*row) for row in rows}

    def record(self, entry: LedgerEntry) -> None:
        self._buffer(
            "gateway_sync_documents",
            ["gateway", *_ENTRY_COLUMNS, "recorded_at"],
            [[self.gateway, *(getattr(entry, c) for c in _ENTRY_COLUMNS), self._now()]],
        )

    # -- lines ------------------------------------------------------------------------

    def lines(self, document_ids: list[str]) -> dict[str, dict[int, str]]:
        """Per document, the gateway id of each line already pushed, by line number."""
        rows = self.client.query(
            f"SELECT document_id, line_no, argMax(gateway_line_id, recorded_at) "
            f"FROM {self.db}.gateway_sync_lines "
            f"WHERE gateway = {{gateway:String}} AND document_id IN {{ids:Array(String)}} "
            f"GROUP BY document_id, line_no",
            parameters={"gateway": self.gateway, "ids": document_ids},
        ).result_rows
        lines: dict[str, dict[int, str]] = {}
        for document_id, line_no, gateway_line_id in rows:
            lines.setdefault(document_id, {})[int(line_no)] = gateway_line_id
        return lines

    def record_lines(self, document_id: str, lines: list[tuple[int, str, str, Decimal]]) -> None:
        """(line number, kind, gateway line id, amount) of lines the gateway confirmed."""
        if not lines:
            return
        now = self._now()
        self._buffer(
            "gateway_sync_lines",
            _LINE_COLUMNS,
            [[self.gateway, document_id, *line, now] for line in lines],
        )

    # -- payment status ---------------------------------------------------------------

    def record_statuses(self, statuses: list[tuple[LedgerEntry, str]]) -> None:
        if not statuses:
            return
        now = self._now()
        self.client.insert(
            f"{self.db}.invoice_statuses",
            [
                [self.gateway, e.document_id, e.period, e.gateway_document_id, status, now]
                for e, status in statuses
            ],
            column_names=[
                "gateway",
                "document_id",
                "period",
                "gateway_document_id",
                "status",
                "fetched_at",
            ],
        )

    def statuses(self, period: str | None = None) -> dict[str, str]:
        """The payment status last pulled from the gateway, per invoice."""
        where = " AND period = {period:String}" if period else ""
        rows = self.client.query(
            f"SELECT document_id, argMax(status, fetched_at) FROM {self.db}.invoice_statuses "
            f"WHERE gateway = {{gateway:String}}{where} GROUP BY document_id",
            parameters={"gateway": self.gateway, "period": period or ""},
        ).result_rows
        return dict(rows)
