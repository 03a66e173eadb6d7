"""Invoices for people: a summary table, then each invoice's lines."""

from __future__ import annotations

from billing_dagster.formatting import table
from billing_dagster.invoicing.documents import Invoice, InvoiceLine

SUMMARY = [
    "invoice_id",
    "customer_id",
    "status",
    "currency",
    "charges",
    "subtotal",
    "discount",
    "tax",
    "credits",
    "adjustments",
    "total",
]
LINES = ["kind", "code", "group", "plan", "quantity", "amount"]


def invoice_tables(invoices: list[Invoice]) -> str:
    summary = [{**i, "credits": i["credits_applied"]} for i in invoices]
    parts = [table(summary, SUMMARY)]
    for invoice in invoices:
        lines = [
            {**{c: line.get(c) for c in LINES}, "plan": _plan(line)} for line in invoice["lines"]
        ]
        title = f"{invoice['invoice_id']}  {invoice['customer_id']}  {invoice['status']}"
        if "timezone" in invoice:
            title += (
                f"  {invoice['period_start']} .. {invoice['period_end']} {invoice['timezone']}"
                f" ({invoice['period_start_utc']} .. {invoice['period_end_utc']})"
            )
        parts.append(f"\n{title}\n{table(lines, LINES)}")
    return "\n".join(parts)


def _plan(line: InvoiceLine) -> str | None:
    return f"{line['plan']} v{line['plan_version']}" if line.get("plan") else None
