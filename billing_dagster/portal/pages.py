"""The portal's pages, rendered on the server as plain HTML with inline SVG charts (no
script, no build step): pure functions of what the portal API answers, so a page shows the
same figures as the JSON and the CLI. Every value is escaped."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from html import escape
from urllib.parse import quote

from billing_dagster.formatting import decimal_text
from billing_dagster.page_layout import bar_chart, page


def overview(
    base: str,
    customer: str,
    period: str,
    periods: list[str],
    amounts: dict,
    daily: dict[str, dict[date, Decimal]],
    entitlements: list[dict],
    credits: list[dict],
    projection: dict | None,
    documents: dict[str, list],
    expires_at: str,
) -> str:
    """A customer's period: usage per metric with a daily chart, entitlements now, credit
    balances after the period, and the period's invoices and credit notes. `base` is the
    portal's own path (with its token)."""
    links = " ".join(
        f'<a href="{base}?period={p}"{" aria-current=page" if p == period else ""}>{p}</a>'
        for p in periods
    )
    body = [
        f"<h1>{escape(customer)} · {period}</h1>",
        f'<nav class="noprint">{links}</nav>',
        f'<p class="muted">This link works until {escape(expires_at)}.</p>',
        "<h2>Usage</h2>",
        _usage_table(amounts),
        *(_daily_chart(metric, period, days) for metric, days in sorted(daily.items())),
        "<h2>Entitlements now</h2>",
        _entitlements(entitlements) if entitlements else "<p>No features.</p>",
        "<h2>Credits</h2>",
        _credits(credits) if credits else "<p>No credit grants.</p>",
        _projection(projection) if projection is not None else "",
        "<h2>Invoices</h2>",
        _documents(base, period, documents),
    ]
    return page(f"{customer} · {period}", "".join(body))


def invoice_page(invoice: dict) -> str:
    """One invoice as a printable page: its lines and totals as the JSON has them."""
    rows = "".join(
        f"<tr><td>{escape(line['kind'])}</td><td>{escape(line.get('code') or '')}</td>"
        f"<td>{escape(line.get('group') or '')}</td>"
        f"<td class=n>{escape(line.get('quantity') or '')}</td>"
        f"<td class=n>{escape(line['amount'])}</td></tr>"
        for line in invoice["lines"]
    )
    totals = "".join(
        f"<tr><th>{label}</th><td class=n>{escape(invoice[key])}</td></tr>"
        for label, key in (
            ("Charges", "charges"),
            ("Subtotal", "subtotal"),
            ("Discount", "discount"),
            ("Tax", "tax"),
            ("Credits applied", "credits_applied"),
            ("Total", "total"),
        )
    )
    body = (
        f"<h1>Invoice {escape(invoice['invoice_id'])}</h1>"
        f"<p>{escape(invoice['customer_id'])} · {escape(invoice['period'])} · "
        f"{escape(invoice['currency'])} · {escape(invoice['status'])}</p>"
        "<table><tr><th>Kind</th><th>Code</th><th>Group</th><th class=n>Quantity</th>"
        f"<th class=n>Amount</th></tr>{rows}</table>"
        f'<table style="width: auto; margin-top: 1rem">{totals}</table>'
    )
    return page(f"Invoice {invoice['invoice_id']}", body)


def refused(message: str) -> str:
    return page("Portal", f"<h1>This link does not open the portal</h1><p>{escape(message)}</p>")


def missing(message: str) -> str:
    return page("Not found", f"<h1>Not found</h1><p>{escape(message)}</p>")


def _usage_table(amounts: dict) -> str:
    """Usage per metric and group with its amount: `/v1/portal/amounts` as it answers."""
    if not amounts["lines"]:
        return "<p>No metered usage in this period.</p>"
    rows = "".join(
        f"<tr><td>{escape(line['code'])}</td><td>{escape(line['group'] or '')}</td>"
        f"<td class=n>{escape(line['quantity'])}</td><td class=n>{escape(line['amount'])}</td>"
        "</tr>"
        for line in amounts["lines"]
    )
    basis = "so far" if amounts["basis"] == "usage so far" else "as finalized"
    return (
        "<table><tr><th>Metric</th><th>Group</th><th class=n>Quantity</th>"
        f"<th class=n>Amount</th></tr>{rows}</table>"
        f'<p>Fixed fees and usage {basis}: <strong data-charges="{escape(amounts["charges"])}">'
        f"{escape(amounts['currency'])} {escape(amounts['charges'])}</strong>.</p>"
    )


def _daily_chart(metric: str, period: str, days: dict[date, Decimal]) -> str:
    """One bar per day of the period, up to the last day with usage."""
    first = date.fromisoformat(f"{period}-01")
    count = (max(days) - first).days + 1
    points = [
        ((day := first + timedelta(days=n)).isoformat(), decimal_text(days.get(day, Decimal(0))))
        for n in range(count)
    ]
    return f"<h3>{escape(metric)} per day</h3>" + bar_chart(
        f"{metric} per day", points, "day", "quantity"
    )


def _entitlements(answers: list[dict]) -> str:
    rows = []
    for answer in answers:
        if answer["kind"] != "metered":
            state = "on" if answer["has_access"] else "off"
            rows.append(f"<tr><td>{escape(answer['feature'])}</td><td colspan=4>{state}</td></tr>")
            continue
        limit, used = answer["limit"], answer["usage"]
        share = min(Decimal(used) / Decimal(limit), Decimal(1)) if limit and Decimal(limit) else 0
        over = " over" if not answer["has_access"] else ""
        bar = f'<span class="bar{over}"><span style="width: {share * 100:.1f}%"></span></span>'
        rows.append(
            f"<tr><td>{escape(answer['feature'])}</td><td>{bar}</td>"
            f"<td class=n>{escape(used)}</td><td class=n>{escape(limit or 'unlimited')}</td>"
            f"<td class=n>{escape(answer['remaining'] or '')}</td>"
            f"<td>{escape(answer['enforcement'] or '')}</td></tr>"
        )
    return (
        "<table><tr><th>Feature</th><th></th><th class=n>Used</th><th class=n>Limit</th>"
        f"<th class=n>Remaining</th><th>Limit is</th></tr>{''.join(rows)}</table>"
    )


def _projection(projection: dict) -> str:
    """The open period's projected invoice: {as_of, invoice} as `/v1/portal/projection`
    answers it."""
    invoice = projection["invoice"]
    if invoice is None:
        return "<h2>Projected invoice</h2><p>Nothing to project yet.</p>"
    lines = "".join(
        f"<tr><td>{escape(line['kind'])}</td><td>{escape(line.get('code') or '')}</td>"
        f"<td class=n>{escape(line.get('quantity') or '')}</td>"
        f"<td class=n>{escape(line['amount'])}</td></tr>"
        for line in invoice["lines"]
    )
    return (
        f"<h2>Projected invoice</h2><p>If usage goes on at its pace up to "
        f"{escape(projection['as_of'])}, this period comes to "
        f'<strong data-projected-total="{escape(invoice["total"])}">'
        f"{escape(invoice['currency'])} {escape(invoice['total'])}</strong>.</p>"
        "<table><tr><th>Kind</th><th>Code</th><th class=n>Projected quantity</th>"
        f"<th class=n>Amount</th></tr>{lines}</table>"
    )


def _credits(balances: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{escape(row['grant'])}</td><td class=n>{escape(row['amount'])}</td>"
        f"<td class=n>{escape(row['used'])}</td><td class=n>{escape(row['balance'])}</td>"
        f"<td>{escape(row['expires'] or 'never')}</td></tr>"
        for row in balances
    )
    return (
        "<table><tr><th>Grant</th><th class=n>Granted</th><th class=n>Used</th>"
        f"<th class=n>Balance</th><th>Expires</th></tr>{rows}</table>"
    )


def _documents(base: str, period: str, documents: dict[str, list]) -> str:
    if not documents["invoices"] and not documents["credit_notes"]:
        return "<p>Not billed yet.</p>"
    rows = "".join(
        f'<tr><td><a href="{base}/invoices/{quote(invoice["invoice_id"], safe="")}'
        f'?period={period}">{escape(invoice["invoice_id"])}</a></td>'
        f"<td>{escape(invoice['status'])}</td><td>{escape(invoice['currency'])}</td>"
        f"<td class=n>{escape(invoice['total'])}</td></tr>"
        for invoice in documents["invoices"]
    )
    notes = "".join(
        f"<tr><td>{escape(note['credit_note_id'])}</td><td>credit note</td>"
        f"<td>{escape(note['currency'])}</td><td class=n>{escape(note['total'])}</td></tr>"
        for note in documents["credit_notes"]
    )
    return (
        "<table><tr><th>Document</th><th>Status</th><th>Currency</th><th class=n>Total</th></tr>"
        f"{rows}{notes}</table>"
    )
