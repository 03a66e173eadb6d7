"""One erasure of a customer, every step idempotent so a run killed at any line is finished
by the next: the personal properties of its events (stored, in quarantine, in the landing
zone), its name in every catalog version, its data at the gateways; then the audit row.

What is kept: invoices, lines, credit notes and refunds (the tax-law retention), which hold
no personal property and no name; the customer's id, which every document refers to.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import latest_catalog_version, load_catalog_part
from billing_dagster.erasure.events import erase_events, erase_quarantined_lines, event_days
from billing_dagster.erasure.landing_files import erase_landed_files
from billing_dagster.erasure.pseudonyms import erasure_key
from billing_dagster.erasure.tombstones import tombstone_catalog_versions
from billing_dagster.gateways.base import GatewayError
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.status import ledger_gateways
from billing_dagster.locks import CATALOG, EVENT_LOADS, GATEWAY_SYNC, USAGE, home_lock


class ErasureRefused(ValueError):
    """The erasure cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class Erasure:
    erasure_id: str
    customer_id: str
    reason: str
    pii_properties: tuple[str, ...]
    events: int  # stored events whose properties changed
    quarantined_lines: int
    landing_files: int
    catalog_versions: int
    #: gateway -> what it did, or why it failed ("failed: ...")
    gateways: dict[str, str] = field(default_factory=dict)
    #: the days the customer has events on, metered again after the erasure
    days: tuple[date, ...] = ()

    @property
    def gateway_failures(self) -> list[str]:
        return [name for name, result in self.gateways.items() if result.startswith("failed")]

    def summary(self) -> dict:
        return {
            "erasure_id": self.erasure_id,
            "customer_id": self.customer_id,
            "pii_properties": list(self.pii_properties),
            "events": self.events,
            "quarantined_lines": self.quarantined_lines,
            "landing_files": self.landing_files,
            "catalog_versions": self.catalog_versions,
            "gateways": self.gateways,
        }


def erase_customer(
    client: Client,
    database: str,
    home: Path,
    customer_id: str,
    reason: str,
    gateways: Gateways,
    run_id: str = "",
) -> Erasure:
    """Erase the customer; a second run finds nothing left to change and adds one audit row."""
    check_request(client, database, customer_id, reason)
    version = latest_catalog_version(client, database)
    pii = tuple(load_catalog_part(client, database, version, "pii_properties"))
    key = erasure_key(home)
    # No load, metering or catalog change meanwhile: each would read or write what changes.
    with home_lock(home, EVENT_LOADS), home_lock(home, USAGE), home_lock(home, CATALOG):
        events = erase_events(client, database, customer_id, pii, key) if pii else 0
        quarantined = erase_quarantined_lines(client, database, customer_id, pii, key)
        landing = erase_landed_files(home, customer_id, pii, key)
        versions = tombstone_catalog_versions(client, database, customer_id)
    with home_lock(home, GATEWAY_SYNC):
        at_gateways = _erase_at_gateways(client, database, customer_id, gateways)
    erasure = Erasure(
        uuid.uuid4().hex,
        customer_id,
        reason,
        pii,
        events,
        quarantined,
        landing,
        versions,
        at_gateways,
        tuple(event_days(client, database, customer_id)),
    )
    _record(client, database, erasure, run_id)
    return erasure


def erasure_of_run(client: Client, database: str, run_id: str) -> dict:
    """The audit row the Dagster run `run_id` wrote."""
    result = client.query(
        f"SELECT erasure_id, customer_id, reason, pii_properties, events, quarantined_lines, "
        f"landing_files, catalog_versions, gateways, run_id, erased_at "
        f"FROM `{database}`.erasures WHERE run_id = {{run:String}}",
        parameters={"run": run_id},
    )
    [row] = result.result_rows
    return dict(zip(result.column_names, row, strict=True)) | {
        "gateways": json.loads(row[8]),
        "erased_at": row[10].isoformat(),
    }


def check_request(client: Client, database: str, customer_id: str, reason: str) -> None:
    if not reason.strip():
        raise ErasureRefused("--reason is empty: say why the customer is erased (the audit)")
    known = client.command(
        f"SELECT count() FROM `{database}`.catalog_customers WHERE customer_id = {{c:String}}",
        parameters={"c": customer_id},
    )
    if not int(known):
        raise ErasureRefused(
            f"no customer {customer_id!r} in any applied catalog: check the id "
            f"(`billing invoices --period YYYY-MM` shows customers' ids)"
        )


def _erase_at_gateways(
    client: Client, database: str, customer_id: str, gateways: Gateways
) -> dict[str, str]:
    """Each gateway the customer's documents went to, asked to erase it too."""
    results = {}
    for name in ledger_gateways(client, database):
        gateway = gateways.get(name)
        try:
            found = gateway.find_customer(customer_id)
            results[name] = gateway.erase_customer(found) if found else "no such customer there"
        except GatewayError as error:
            results[name] = f"failed: {error}"
    return results


def _record(client: Client, database: str, erasure: Erasure, run_id: str) -> None:
    client.insert(
        f"`{database}`.erasures",
        [
            [
                erasure.erasure_id,
                erasure.customer_id,
                erasure.reason,
                list(erasure.pii_properties),
                erasure.events,
                erasure.quarantined_lines,
                erasure.landing_files,
                erasure.catalog_versions,
                json.dumps(erasure.gateways, sort_keys=True),
                run_id,
                datetime.now(UTC),
            ]
        ],
        column_names=[
            "erasure_id",
            "customer_id",
            "reason",
            "pii_properties",
            "events",
            "quarantined_lines",
            "landing_files",
            "catalog_versions",
            "gateways",
            "run_id",
            "erased_at",
        ],
    )
