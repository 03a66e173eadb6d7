"""The file gateway: the same sync writes each invoice and credit note as one JSON file."""

from __future__ import annotations

import json
from decimal import Decimal

from billing_dagster.gateways.config import GatewayCredentials, Gateways, make_gateway
from billing_dagster.gateways.file_gateway import FileGateway
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.gateways.status import check_totals, pull_statuses
from billing_dagster.gateways.sync import sync_period
from testbed.documents import three_currencies, write_finalized


def test_file_gateway_writes_each_document_once(client, database, tmp_path):
    invoices = three_currencies("2026-10")
    write_finalized(client, database, "2026-10", invoices)
    gateway, retry = FileGateway(tmp_path / "out"), RetryPolicy(attempts=1)
    gateways = Gateways.only(gateway)
    summary = sync_period(client, database, gateways, "2026-10", retry)
    assert summary.synced == [i["invoice_id"] for i in invoices]
    for invoice in invoices:
        written = json.loads(
            (tmp_path / "out" / "invoices" / f"{invoice['invoice_id']}.json").read_text()
        )
        assert written["status"] == "open"
        assert [
            {k: v for k, v in line.items() if k != "line_no"} for line in written["lines"]
        ] == invoice["lines"]
        assert [line["line_no"] for line in written["lines"]] == list(
            range(1, len(invoice["lines"]) + 1)
        )
    assert sorted(p.name for p in (tmp_path / "out" / "customers").iterdir()) == [
        "acme.json",
        "globex.json",
        "initech.json",
    ]
    assert check_totals(client, database, gateways, retry, "2026-10").mismatches == []
    assert pull_statuses(client, database, gateway, retry) == {"open": 3}
    again = sync_period(client, database, gateways, "2026-10", retry)
    assert again.already_synced == summary.synced and not again.synced


def test_a_gateway_without_its_keys_fails_only_its_customers(client, database, tmp_path):
    invoices = three_currencies("2026-10")
    write_finalized(client, database, "2026-10", invoices)
    client.insert(
        f"`{database}`.catalog_customers",
        [[1, "acme", "Acme", Decimal(0), "chargebee"], [1, "globex", "Globex", Decimal(0), ""]],
        column_names=["catalog_version", "customer_id", "name", "tax_rate", "gateway"],
    )
    credentials = GatewayCredentials(directory=str(tmp_path / "out"))  # no Chargebee keys
    gateways = Gateways("file", lambda name: make_gateway(name, credentials))
    summary = sync_period(client, database, gateways, "2026-10", RetryPolicy(attempts=1))
    assert summary.gateway == "chargebee, file"
    assert summary.synced == ["INV-2026-10-globex", "INV-2026-10-initech"]
    assert summary.failed == [
        {
            "id": "INV-2026-10-acme",
            "reason": "CHARGEBEE_API_KEY and CHARGEBEE_SITE must both be set: the full-access "
            "key and the site name (<site>.chargebee.com) of the Chargebee account",
        }
    ]
