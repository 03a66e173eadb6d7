"""Finance's pages: each report (reports/finance.py) as HTML with its charts, a pure
function of the report's JSON, so the page shows what `billing report --format json`
prints. Signed in with a `read` API key, which the browser keeps in an HttpOnly cookie."""

from __future__ import annotations

from html import escape

from billing_dagster.metering.dbt_project import project_vars
from billing_dagster.page_layout import bar_chart, html_table, page
from billing_dagster.reports.finance import NAMES, REVENUE_COLUMNS

TITLES = {
    "revenue": "Revenue",
    "mrr": "MRR",
    "top-customers": "Top customers",
    "anomalies": "Usage anomalies",
    "health": "Health",
}


def report_page(report: dict, periods: list[str]) -> str:
    name, period = report["report"], report["period"]
    reports = " ".join(
        f'<a href="/finance/{n}?period={period}"{_current(n == name)}>{TITLES[n]}</a>'
        for n in NAMES
    )
    months = " ".join(
        f'<a href="/finance/{name}?period={p}"{_current(p == period)}>{p}</a>' for p in periods
    )
    body = (
        f"<h1>{TITLES[name]} · {period}</h1>"
        f'<nav class="noprint">{reports}</nav><nav class="noprint muted">{months}</nav>'
        f"{_BODIES[name](report)}"
        '<form class="noprint" method="post" action="/finance/sign-out">'
        '<p><button type="submit">Sign out</button></p></form>'
    )
    return page(f"{TITLES[name]} · {period}", body)


def sign_in(message: str = "") -> str:
    """The form that trades a `read` API key for the session cookie."""
    problem = f'<p role="alert">{escape(message)}</p>' if message else ""
    return page(
        "Finance · sign in",
        "<h1>Finance</h1><p>Sign in with an API key of scope <code>read</code> or "
        "<code>admin</code> that is not bound to a customer (<code>billing keys create "
        "--scope read</code>).</p>"
        f'{problem}<form method="post" action="/finance/sign-in">'
        '<label>API key <input name="key" type="password" autocomplete="off" required '
        'size="60"></label> <button type="submit">Sign in</button></form>',
    )


def _revenue(report: dict) -> str:
    totals = "".join(
        f'<li data-currency="{escape(t["currency"])}" data-revenue="{escape(t["revenue"])}">'
        f"<strong>{escape(t['currency'])} {escape(t['revenue'])}</strong>"
        f"{' (provisional: the period is a draft)' if t['revenue_status'] == 'provisional' else ''}"
        "</li>"
        for t in report["totals"]
    )
    return (
        f"<h2>Total</h2><ul>{totals or '<li>Nothing billed.</li>'}</ul>"
        + _trends(report["trend"], "revenue")
        + "<h2>By plan</h2>"
        + html_table(report["by_plan"], list(REVENUE_COLUMNS))
    )


def _mrr(report: dict) -> str:
    return (
        "<h2>MRR and its movements</h2>"
        + html_table(
            report["totals"],
            ["currency", "previous_mrr", "new", "expansion", "contraction", "churn", "mrr"],
        )
        + _trends(report["trend"], "mrr")
        + "<h2>Customers who moved it</h2>"
        + html_table(
            report["movements"],
            ["customer_id", "currency", "movement", "previous_mrr", "mrr", "change"],
        )
    )


def _top_customers(report: dict) -> str:
    columns = ["rank", "customer_id", "currency", "revenue", "revenue_status", "events"]
    return (
        "<h2>By amount billed</h2>"
        + html_table(report["by_amount"], columns)
        + "<h2>By usage (billable events)</h2>"
        + html_table(report["by_usage"], columns)
    )


def _anomalies(report: dict) -> str:
    rule = project_vars()
    return (
        f"<p>A spike is a customer's day of a metric with more than {rule['spike_factor']}× "
        f"the median events of the {rule['spike_baseline_days']} days before, and at least "
        f"{rule['spike_min_events']:,}.</p>"
        + html_table(report["spikes"], ["day", "customer_id", "metric", "events", "baseline"])
    )


def _health(report: dict) -> str:
    days = report["days_to_meter"]
    return (
        "<h2>Quarantined lines</h2>"
        + html_table(report["quarantine"], ["reason", "lines", "last_7_days"])
        + f"<h2>Days waiting to be metered</h2><p>{escape(', '.join(days)) or 'None.'}</p>"
        + "<h2>Documents: status, gateway sync and payment</h2>"
        + html_table(
            report["documents"],
            ["document", "status", "sync_state", "payment_status", "documents"],
        )
    )


def _trends(trend: list[dict], figure: str) -> str:
    """A chart per currency: one bar per period of the trend."""
    charts = []
    for currency in sorted({row["currency"] for row in trend}):
        points = [(r["period"], r[figure]) for r in trend if r["currency"] == currency]
        label = f"{figure} per period, {currency}"
        charts.append(
            f"<h3>{escape(currency)} per period</h3>{bar_chart(label, points, 'period', figure)}"
        )
    return "<h2>Trend</h2>" + "".join(charts) if charts else ""


def _current(is_current: bool) -> str:
    return " aria-current=page" if is_current else ""


_BODIES = {
    "revenue": _revenue,
    "mrr": _mrr,
    "top-customers": _top_customers,
    "anomalies": _anomalies,
    "health": _health,
}
