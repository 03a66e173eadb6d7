"""Customers whose plan blocks them now (`block_on` of the plan version in force): a dispute
lost, or an invoice past due. While blocked, hard-limited metered features are denied
(`answers.answer`); soft ones keep access, so a block never breaks what the plan lets run
over. Read from the warehouse when payment statuses, disputes, the catalog or the day change,
like spending caps: never per request."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import BLOCK_CONDITIONS, Catalog
from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.entitlements.exact import as_utc
from billing_dagster.gateways.base import PAYMENT_TERMS_DAYS

#: The answer's reason for each condition, in the order they are told (a lost dispute first:
#: money was taken back, not merely late).
REASONS = {"dispute_lost": "blocked_dispute_lost", "past_due": "blocked_past_due"}


def is_past_due(payment_status: str, sent_on: date, today: date) -> bool:
    """Uncollectible on the gateway, or still open after its due date: the day the sync
    sent it plus `PAYMENT_TERMS_DAYS`."""
    overdue = today > sent_on + timedelta(days=PAYMENT_TERMS_DAYS)
    return payment_status == "uncollectible" or (payment_status == "open" and overdue)


def block_reason(block_on: tuple[str, ...], holding: set[str]) -> str | None:
    """The reason of the first condition of `REASONS` that the plan blocks on and holds."""
    return next((REASONS[c] for c in REASONS if c in block_on and c in holding), None)


def blocks_version(client: Client, database: str, today: date) -> tuple:
    """Changes whenever a block may have: a catalog, a status or dispute pulled, a day."""
    db = f"`{database}`"
    counts = client.query(
        f"SELECT (SELECT max(catalog_version) FROM {db}.catalog_versions), "
        f"(SELECT count() FROM {db}.invoice_statuses), (SELECT count() FROM {db}.disputes)"
    ).result_rows[0]
    return (*counts, today)


def read_blocks(client: Client, database: str, now: datetime) -> dict[str, str]:
    """customer -> reason, for each customer blocked now."""
    version = latest_catalog_version(client, database)
    if version is None:
        return {}
    block_on = _block_on_today(load_catalog(client, database, version), now.date())
    if not block_on:
        return {}
    holding: dict[str, set[str]] = {}
    for customer in _lost_disputes(client, database, sorted(block_on)):
        holding.setdefault(customer, set()).add("dispute_lost")
    for customer in _past_due(client, database, sorted(block_on), now.date()):
        holding.setdefault(customer, set()).add("past_due")
    reasons = {c: block_reason(block_on[c], found) for c, found in holding.items()}
    return {customer: reason for customer, reason in reasons.items() if reason}


def _block_on_today(catalog: Catalog, today: date) -> dict[str, tuple[str, ...]]:
    """The conditions of each customer whose subscriptions in force today block on any: with
    several products at once, those of all its plans in force (docs/invoicing.md)."""
    found: dict[str, set[str]] = {}
    for s in catalog.subscriptions:
        if s.start <= today and (s.end is None or today < s.end):
            block_on = catalog.plan_version(s.plan, s.version).block_on
            if block_on:
                found.setdefault(s.customer, set()).update(block_on)
    return {c: tuple(b for b in BLOCK_CONDITIONS if b in found[c]) for c in found}


def _lost_disputes(client: Client, database: str, customers: list[str]) -> list[str]:
    rows = client.query(
        f"SELECT DISTINCT customer FROM (SELECT argMax(customer_id, observed_at) AS customer, "
        f"argMax(status, observed_at) AS latest FROM `{database}`.disputes "
        f"GROUP BY gateway, dispute_id) WHERE latest = 'lost' AND customer IN {{c:Array(String)}}",
        parameters={"c": customers},
    ).result_rows
    return [customer for (customer,) in rows]


def _past_due(client: Client, database: str, customers: list[str], today: date) -> set[str]:
    """Customers with an invoice the ledger records as sent and the gateway last reported
    open or uncollectible, past due by `is_past_due`."""
    db = f"`{database}`"
    rows = client.query(
        f"SELECT sent.customer, paid.status, sent.sent_at FROM ("
        f"  SELECT document_id, any(customer_id) AS customer, "
        f"  minIf(recorded_at, state = 'synced') AS sent_at "
        f"  FROM {db}.gateway_sync_documents WHERE document_kind = 'invoice' "
        f"  AND customer_id IN {{c:Array(String)}} "
        f"  GROUP BY document_id HAVING countIf(state = 'synced') > 0) AS sent "
        f"INNER JOIN (SELECT document_id, argMax(status, fetched_at) AS status "
        f"  FROM {db}.invoice_statuses GROUP BY document_id) AS paid USING document_id "
        f"WHERE paid.status IN ('open', 'uncollectible')",
        parameters={"c": customers},
    ).result_rows
    return {c for c, status, sent_at in rows if is_past_due(status, as_utc(sent_at).date(), today)}
