"""Invoices in the warehouse: rated usage read from dbt, billing runs written atomically.

A billing run writes its invoices and lines, then its `billing_runs` row; readers take the
latest committed run of a period, so a run that dies midway is never seen and a re-run
replaces nothing in place. The invoice JSON is stored as text, exactly as printed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.assemble import PeriodUsage, RatedUsage

_TIER_FIELDS = ("tier", "units", "unit_price", "flat_fee", "amount")


def rated_usage(
    client: Client, database: str, periods: list[str], customers: list[str] | None = None
) -> dict[str, PeriodUsage]:
    """Rows of `fct_rated_usage` for `periods` (and only `customers`, when given)."""
    where = "period IN {periods:Array(String)}"
    if customers is not None:
        where += " AND customer_id IN {customers:Array(String)}"
    rows = client.query(
        f"SELECT period, subscription_id, metric_code, group_value, quantity, amount, tiers "
        f"FROM `{database}`.fct_rated_usage WHERE {where}",
        parameters={"periods": periods, "customers": customers or []},
    ).result_rows
    usage: dict[str, dict] = {period: {} for period in periods}
    for period, subscription, metric, group, quantity, amount, tiers in rows:
        breakdown = tuple(
            {name: _text(value) for name, value in zip(_TIER_FIELDS, tier, strict=True)}
            for tier in tiers
        )
        row = RatedUsage(subscription, metric, group, quantity, amount, breakdown)
        usage[period].setdefault((subscription, metric), []).append(row)
    return usage


def _text(value: int | Decimal) -> str | int:
    return value if isinstance(value, int) else decimal_text(value)


def invoice_json(invoice: dict) -> str:
    return json.dumps(invoice, separators=(",", ":"))


def write_billing_run(
    client: Client, database: str, period: str, catalog_version: int, invoices: list[dict]
) -> str:
    """Store `invoices` as a new billing run of `period`; returns its id."""
    db = f"`{database}`"
    run_id = uuid.uuid4().hex
    if invoices:
        client.insert(
            f"{db}.invoices",
            [
                [run_id, period, i["invoice_id"], i["customer_id"], i["currency"], i["status"]]
                + [Decimal(i[name]) for name in _TOTALS]
                + [catalog_version, invoice_json(i)]
                for i in invoices
            ],
            column_names=[
                "billing_run_id",
                "period",
                "invoice_id",
                "customer_id",
                "currency",
                "status",
                *_TOTALS,
                "catalog_version",
                "document",
            ],
        )
        lines = [
            [run_id, period, i["invoice_id"], number, *_line_columns(line)]
            for i in invoices
            for number, line in enumerate(i["lines"], start=1)
        ]
        client.insert(
            f"{db}.invoice_lines",
            lines,
            column_names=[
                "billing_run_id",
                "period",
                "invoice_id",
                "line_no",
                "kind",
                "code",
                "group_value",
                "plan",
                "plan_version",
                "subscription_id",
                "quantity",
                "amount",
            ],
        )
    client.insert(
        f"{db}.billing_runs",
        [[run_id, period, catalog_version, len(invoices), datetime.now(UTC)]],
        column_names=["billing_run_id", "period", "catalog_version", "invoices", "created_at"],
    )
    return run_id


_TOTALS = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")


def _line_columns(line: dict) -> list:
    """kind, code, group, plan, plan version, subscription, quantity, amount."""
    quantity = Decimal(line["quantity"]) if "quantity" in line else None
    where = [line.get(key) for key in ("code", "group", "plan", "plan_version", "subscription_id")]
    return [line["kind"], *where, quantity, Decimal(line["amount"])]


def latest_invoices(client: Client, database: str, period: str) -> list[dict] | None:
    """The invoices of the latest committed billing run of `period`; None if never billed."""
    db = f"`{database}`"
    run = client.query(
        f"SELECT argMax(billing_run_id, created_at), count() FROM {db}.billing_runs "
        f"WHERE period = {{period:String}}",
        parameters={"period": period},
    ).result_rows[0]
    if not run[1]:
        return None
    documents = client.query(
        f"SELECT document FROM {db}.invoices WHERE billing_run_id = {{run:String}} "
        f"ORDER BY customer_id",
        parameters={"run": run[0]},
    ).result_rows
    return [json.loads(document) for (document,) in documents]


def last_billed_period(client: Client, database: str) -> str | None:
    period = client.command(f"SELECT max(period) FROM `{database}`.billing_runs")
    return period or None
