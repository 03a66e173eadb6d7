"""Reading back from the gateway: payment status, and whether its totals equal ours."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from billing_dagster.gateways.base import Gateway, GatewayError, minor_units
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.ledger import SYNCED, VOIDED, SyncLedger, from_minor
from billing_dagster.gateways.retry import RetryPolicy


def ledger_gateways(client: Client, database: str, period: str | None = None) -> list[str]:
    """The gateways the ledger records documents on (of `period`, or of any)."""
    where = "WHERE period = {period:String}" if period else ""
    rows = client.query(
        f"SELECT DISTINCT gateway FROM `{database}`.gateway_sync_documents {where} ORDER BY 1",
        parameters={"period": period or ""},
    ).result_rows
    return [name for (name,) in rows]


def pull_all_statuses(
    client: Client, database: str, gateways: Gateways, retry: RetryPolicy
) -> dict[str, int]:
    """`pull_statuses` from every gateway that holds documents; the counts added up."""
    counts: dict[str, int] = {}
    for name in ledger_gateways(client, database):
        for status, count in pull_statuses(client, database, gateways.get(name), retry).items():
            counts[status] = counts.get(status, 0) + count
    return dict(sorted(counts.items()))


def pull_statuses(
    client: Client, database: str, gateway: Gateway, retry: RetryPolicy, period: str | None = None
) -> dict[str, int]:
    """Fetch the status of every invoice on the gateway (of `period`, or all) into
    `invoice_statuses`; returns the count per status."""
    ledger = SyncLedger(client, database, gateway.name)
    entries = [
        e
        for e in ledger.entries(period=period).values()
        if e.document_kind == "invoice" and e.gateway_document_id
    ]
    statuses = [
        (
            e,
            retry.call(
                lambda e=e: gateway.fetch_invoice(e.gateway_document_id).status,
                f"status of invoice {e.document_id}",
            ),
        )
        for e in entries
    ]
    ledger.record_statuses(statuses)
    counts: dict[str, int] = {}
    for _, status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class TotalsCheck:
    checked: int
    mismatches: list[dict[str, str]]
    error: str = ""  # why the totals could not be read, when they could not


def check_totals(
    client: Client, database: str, gateways: Gateways, retry: RetryPolicy, period: str
) -> TotalsCheck:
    """For every invoice of `period` synced to a gateway: its total there equals ours. A
    gateway that cannot be read makes the check's error (the others are still compared)."""
    checked, mismatches, errors = 0, [], []
    for name in ledger_gateways(client, database, period):
        try:
            found = _compare_totals(client, database, gateways.get(name), retry, period)
        except GatewayError as error:
            errors.append(f"could not read totals from {name}: {error}")
            continue
        checked, mismatches = checked + found.checked, mismatches + found.mismatches
    return TotalsCheck(checked, mismatches, error="; ".join(errors))


def _compare_totals(
    client: Client, database: str, gateway: Gateway, retry: RetryPolicy, period: str
) -> TotalsCheck:
    entries = SyncLedger(client, database, gateway.name).entries(period=period).values()
    synced = [
        e
        for e in entries
        if e.document_kind == "invoice" and e.state in (SYNCED, VOIDED)
        if e.gateway_document_id
    ]
    mismatches = []
    for entry in synced:
        remote = retry.call(
            lambda entry=entry: gateway.fetch_invoice(entry.gateway_document_id),
            f"total of invoice {entry.document_id}",
        )
        ours = minor_units(entry.total, entry.currency)
        if remote.total_minor != ours or remote.currency != entry.currency:
            mismatches.append(
                {
                    "invoice_id": entry.document_id,
                    "ours": f"{from_minor(ours, entry.currency):f} {entry.currency}",
                    "gateway": f"{from_minor(remote.total_minor, remote.currency):f} "
                    f"{remote.currency}",
                }
            )
    return TotalsCheck(len(synced), mismatches)
