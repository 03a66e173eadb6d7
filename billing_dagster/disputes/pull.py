"""Disputes read back from the gateways, after the payment status (`invoice_disputes`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from billing_dagster.disputes.store import DisputeState, latest_states, record_changes
from billing_dagster.gateways.base import Gateway
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.ledger import SyncLedger, from_minor
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import ledger_gateways


@dataclass
class DisputePull:
    #: state changes recorded (0 when nothing moved since the last pull)
    recorded: int = 0
    #: gateways holding invoices whose API cannot tell of disputes
    not_reported: list[str] = field(default_factory=list)


def pull_all_disputes(
    client: Client, database: str, gateways: Gateways, retry: RetryPolicy
) -> DisputePull:
    """`pull_disputes` from every gateway that holds documents and reports disputes."""
    pulled = DisputePull()
    for name in ledger_gateways(client, database):
        gateway = gateways.get(name)
        if gateway.reports_disputes:
            pulled.recorded += pull_disputes(client, database, gateway, retry)
        else:
            pulled.not_reported.append(name)
    return pulled


def pull_disputes(client: Client, database: str, gateway: Gateway, retry: RetryPolicy) -> int:
    """Record each dispute of the gateway's invoices whose state changed since the last
    pull; how many rows. Only invoices last seen paid, or with a dispute already, are
    asked: a payment must exist to be disputed."""
    ledger = SyncLedger(client, database, gateway.name)
    paid = {invoice for invoice, status in ledger.statuses().items() if status == "paid"}
    known = latest_states(client, database, gateway.name)
    disputed = {state.invoice_id for state in known.values()}
    entries = [
        entry
        for entry in ledger.entries(document_ids=sorted(paid | disputed)).values()
        if entry.document_kind == "invoice" and entry.gateway_document_id
    ]
    observed = [
        DisputeState(
            gateway.name,
            dispute.gateway_id,
            entry.document_id,
            entry.period,
            entry.customer_id,
            entry.gateway_document_id,
            from_minor(dispute.amount_minor, dispute.currency),
            dispute.currency,
            dispute.reason,
            dispute.status,
            dispute.gateway_status,
            dispute.opened_at,
        )
        for entry in entries
        for dispute in retry.call(
            lambda entry=entry: gateway.fetch_disputes(entry.gateway_document_id),
            f"disputes of invoice {entry.document_id}",
        )
    ]
    return record_changes(client, database, observed, known)
