"""Voiding a finalized invoice: it stays stored, unchanged, and its status reads void.

Finalized documents are immutable, so a void is its own append-only row (`invoice_voids`);
the gateway sync voids the invoice on the gateway too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from billing_dagster.invoicing.documents import Invoice
from billing_dagster.invoicing.store import finalized_documents


class VoidRefused(ValueError):
    """The invoice cannot be voided; the message says why and what to do."""


@dataclass(frozen=True)
class Void:
    invoice_id: str
    period: str
    reason: str
    voided_at: datetime


def void_invoice(client: Client, database: str, invoice_id: str, reason: str) -> Void:
    """Void a finalized invoice; voiding it again returns the first void."""
    if not reason.strip():
        raise VoidRefused("--reason is empty: say why the invoice is voided")
    done = voids(client, database, [invoice_id])
    if invoice_id in done:
        return done[invoice_id]
    rows = client.query(
        f"SELECT d.period FROM {finalized_documents(database)} "
        f"WHERE d.document_kind = 'invoice' AND d.document_id = {{id:String}} LIMIT 1",
        parameters={"id": invoice_id},
    ).result_rows
    if not rows and client.command(
        f"SELECT count() FROM `{database}`.interim_invoices WHERE invoice_id = {{id:String}}",
        parameters={"id": invoice_id},
    ):
        raise VoidRefused(
            f'invoice "{invoice_id}" is an interim invoice: interim invoices cannot be voided, '
            f"since the period's invoice deducts what they billed (docs/invoicing.md, Threshold "
            f"invoicing)"
        )
    if not rows:
        drafted = client.command(
            f"SELECT count() FROM `{database}`.invoices WHERE invoice_id = {{id:String}}",
            parameters={"id": invoice_id},
        )
        if not drafted:
            raise VoidRefused(
                f'no such invoice "{invoice_id}"; `billing invoices --period YYYY-MM` lists a '
                f"period's invoices"
            )
        raise VoidRefused(
            f'invoice "{invoice_id}" is not a finalized invoice: only finalized invoices can be '
            f"voided (a draft changes with the next `billing bill`)"
        )
    void = Void(invoice_id, rows[0][0], reason, datetime.now(UTC))
    client.insert(
        f"`{database}`.invoice_voids",
        [[void.invoice_id, void.period, void.reason, void.voided_at]],
        column_names=["invoice_id", "period", "reason", "voided_at"],
    )
    return void


def with_void_status(client: Client, database: str, invoices: list[Invoice]) -> list[Invoice]:
    """The invoices as users read them: a voided one with `"status": "void"` and its
    reason; the stored finalized document itself never changes."""
    done = voids(client, database, [invoice["invoice_id"] for invoice in invoices])
    return [
        invoice | {"status": "void", "void_reason": done[invoice["invoice_id"]].reason}
        if invoice["invoice_id"] in done
        else invoice
        for invoice in invoices
    ]


def voids(client: Client, database: str, invoice_ids: list[str] | None = None) -> dict[str, Void]:
    """The voids of `invoice_ids` (or all), the first one of each invoice."""
    where = "WHERE invoice_id IN {ids:Array(String)}" if invoice_ids is not None else ""
    rows = client.query(
        f"SELECT invoice_id, argMin(period, voided_at), argMin(reason, voided_at), "
        f"min(voided_at) FROM `{database}`.invoice_voids {where} GROUP BY invoice_id",
        parameters={"ids": invoice_ids or []},
    ).result_rows
    return {row[0]: Void(*row) for row in rows}
