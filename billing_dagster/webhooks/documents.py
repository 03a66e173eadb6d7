"""Webhook events of documents and checks: `invoice.finalized` and
`credit_note.issued` when a period is finalized (and `invoice.finalized` when an interim
invoice is issued), `invoice.synced` when the gateway holds
an invoice, `data_quality.failed` when an asset check fails. Their ids are fixed by the
document (and gateway) or the evaluation, so announcing again, after
a re-run or a crash between the work and its announcement, writes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from billing_dagster.invoicing.documents import CreditNote, Invoice
from billing_dagster.invoicing.interim import interim_invoices
from billing_dagster.invoicing.store import latest_credit_notes, latest_invoices
from billing_dagster.webhooks.outbox import OutboxEvent, publish, stable_event_id


def announce_finalized(client: Client, database: str, period: str) -> int:
    """The finalized period's invoices and credit notes; how many events were new."""
    now = datetime.now(UTC)
    events = [
        _event("invoice.finalized", invoice["invoice_id"], now, _invoice_data(invoice))
        for invoice in latest_invoices(client, database, period) or []
    ]
    events += [
        _event("credit_note.issued", note["credit_note_id"], now, _note_data(note))
        for note in latest_credit_notes(client, database, period) or []
    ]
    return publish(client, database, events)


def announce_interims(client: Client, database: str, period: str) -> int:
    """The interim invoices issued in the open period; how many events were new."""
    now = datetime.now(UTC)
    events = [
        _event("invoice.finalized", invoice["invoice_id"], now, _invoice_data(invoice))
        for invoice in interim_invoices(client, database, period)
    ]
    return publish(client, database, events)


def announce_synced(
    client: Client, database: str, gateway: str, period: str, invoice_ids: list[str]
) -> int:
    """These invoices of the period (interim invoices among them) are on the gateway (synced
    now or before)."""
    now = datetime.now(UTC)
    wanted = set(invoice_ids)
    events = [
        _event(
            "invoice.synced",
            f"{gateway}/{invoice['invoice_id']}",
            now,
            {**_invoice_data(invoice), "gateway": gateway},
        )
        for invoice in interim_invoices(client, database, period)
        + (latest_invoices(client, database, period) or [])
        if invoice["invoice_id"] in wanted
    ]
    return publish(client, database, events)


def _event(event_type: str, subject: str, now: datetime, data: dict) -> OutboxEvent:
    return OutboxEvent(stable_event_id(event_type, subject), event_type, now, data)


def _invoice_data(invoice: Invoice) -> dict:
    return {key: invoice[key] for key in ("invoice_id", "customer_id", "period", "currency",
                                          "total")}  # fmt: skip


def _note_data(note: CreditNote) -> dict:
    keys = ("credit_note_id", "customer_id", "period", "adjusts_invoice", "currency", "total")
    return {key: note[key] for key in keys}


def announce_failed_checks(client: Client, database: str, failing: list[dict]) -> int:
    """`data_quality.failed` for each failing evaluation of an asset check (check, severity,
    partition, description, run_id): once per evaluation."""
    now = datetime.now(UTC)
    events = [
        _event(
            "data_quality.failed",
            f"{check['check']}/{check['partition']}/{check['run_id']}",
            now,
            {key: check[key] for key in ("check", "severity", "partition", "description")},
        )
        for check in failing
    ]
    return publish(client, database, events)
