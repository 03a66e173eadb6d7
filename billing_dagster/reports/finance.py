"""Finance reports: revenue, MRR, top customers, usage anomalies and health, each read from
the dbt marts of `models/marts/finance` (never raw events), so `billing report`, the
`/v1/reports/...` JSON and the finance pages show one set of figures, and analysts can
query the same marts. Amounts are decimal strings, per currency: never added across
currencies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import CURRENCY_MINOR_UNITS
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.metering.dbt_project import deployed
from billing_dagster.metering.ledger import stale_days
from billing_dagster.periods import period_bounds, previous_period

#: The marts every report reads: a report answers only once they are deployed.
MARTS = ("fct_revenue", "fct_mrr", "fct_customer_revenue", "fct_usage_anomalies")
#: How many periods a trend shows, up to the period asked.
TREND_PERIODS = 12
#: How many customers each top list shows, per currency.
TOP = 10
MOVEMENTS = ("new", "expansion", "contraction", "churn")
#: The amounts of a revenue row, in the order an invoice adds them up.
REVENUE_PARTS = (
    "fixed_fees",
    "usage",
    "minimum_commitments",
    "discounts",
    "tax",
    "credits_applied",
    "adjustments",
    "credit_notes",
    "revenue",
)
#: A revenue row as the CLI and the page show it.
REVENUE_COLUMNS = ("currency", "plan_code", "revenue_status", "invoices", *REVENUE_PARTS)


class ReportUnavailable(Exception):
    """The marts are not deployed yet: nothing has been metered or billed."""


def money(value: Decimal, currency: str) -> str:
    """Exact, with at least the currency's minor digits: 19 -> "19.00"; 0.005 stays."""
    minor = Decimal(1).scaleb(-CURRENCY_MINOR_UNITS.get(currency, 2))
    value = value.normalize()
    exact = value.as_tuple().exponent >= minor.as_tuple().exponent  # type: ignore[operator]
    text = f"{value.quantize(minor) if exact else value:f}"
    return text.lstrip("-") if Decimal(text).is_zero() else text


def revenue(client: Client, database: str, period: str) -> dict:
    """Per currency and plan, what the period's documents billed, provisional while the
    period is a draft, and the trend of the periods before. The totals equal Σ invoice
    totals − Σ credit notes per currency. One read of the mart."""
    rows = _rows(
        client,
        f"SELECT period, currency, plan_code, revenue_status, invoices, customers, "
        f"{', '.join(REVENUE_PARTS)} FROM `{database}`.fct_revenue "
        f"WHERE period > {{since:String}} AND period <= {{period:String}} "
        f"ORDER BY currency, period, plan_code, revenue_status",
        period=period,
        since=_periods_before(period, TREND_PERIODS),
    )
    sums: dict[tuple[str, str], dict] = {}
    for row in rows:
        total = sums.setdefault(
            (row["currency"], row["period"]), {"revenue": Decimal(0), "statuses": set()}
        )
        total["revenue"] += row["revenue"]
        total["statuses"].add(row["revenue_status"])
    trend = [
        {
            "period": month,
            "currency": currency,
            "revenue": money(total["revenue"], currency),
            "revenue_status": "provisional" if "provisional" in total["statuses"] else "final",
        }
        for (currency, month), total in sums.items()
    ]
    return {
        "report": "revenue",
        "period": period,
        "totals": [
            {k: v for k, v in row.items() if k != "period"}
            for row in trend
            if row["period"] == period
        ],
        "by_plan": [
            {
                **{k: row[k] for k in ("currency", "plan_code", "revenue_status")},
                "invoices": int(row["invoices"]),
                "customers": int(row["customers"]),
                **{k: money(row[k], row["currency"]) for k in REVENUE_PARTS},
            }
            for row in rows
            if row["period"] == period
        ],
        "trend": trend,
    }


def mrr(client: Client, database: str, period: str) -> dict:
    """MRR at the month's end per currency, how it moved from the month before (new,
    expansion, contraction, churn), which customers moved it, and the trend of the months
    before. One read of the mart."""
    movements = ", ".join(
        f"sumIf(change, movement = '{m}') AS {m}, countIf(movement = '{m}') AS {m}_customers"
        for m in MOVEMENTS
    )
    rows = _rows(
        client,
        f"SELECT period, currency, sum(mrr) AS mrr_total, sum(previous_mrr) AS previous_total, "
        f"countIf(mrr > 0) AS customers, {movements}, "
        f"arraySort(moved -> (moved.2, moved.1), groupArrayIf("
        f"(customer_id, movement, previous_mrr, mrr, change), "
        f"period = {{period:String}} AND movement != 'unchanged')) AS moved "
        f"FROM `{database}`.fct_mrr "
        f"WHERE period > {{since:String}} AND period <= {{period:String}} "
        f"GROUP BY period, currency ORDER BY currency, period",
        period=period,
        since=_periods_before(period, TREND_PERIODS),
    )
    figures = {"mrr": "mrr_total", "previous_mrr": "previous_total", "customers": "customers"}
    figures |= {m: m for m in MOVEMENTS} | {f"{m}_customers": f"{m}_customers" for m in MOVEMENTS}
    return {
        "report": "mrr",
        "period": period,
        "totals": [
            {
                "currency": row["currency"],
                **{
                    key: money(row[column], row["currency"])
                    if isinstance(row[column], Decimal)
                    else int(row[column])
                    for key, column in figures.items()
                },
            }
            for row in rows
            if row["period"] == period
        ],
        "movements": [
            {
                "customer_id": customer,
                "currency": row["currency"],
                "movement": movement,
                **{
                    k: money(v, row["currency"])
                    for k, v in (("previous_mrr", before), ("mrr", after), ("change", change))
                },
            }
            for row in rows
            for customer, movement, before, after, change in row["moved"]
        ],
        "trend": [
            {
                "period": row["period"],
                "currency": row["currency"],
                "mrr": money(row["mrr_total"], row["currency"]),
            }
            for row in rows
        ],
    }


def top_customers(client: Client, database: str, period: str) -> dict:
    """The customers billed most in the period (ranked per currency) and those who used
    most (billable events metered). One read of the mart, ranked in the warehouse."""
    rows = _rows(
        client,
        f"SELECT * FROM (SELECT customer_id, currency, revenue_status, revenue, events, "
        f"row_number() OVER (PARTITION BY currency ORDER BY revenue DESC, customer_id) "
        f"AS amount_rank, if(events > 0, row_number() OVER (ORDER BY events DESC, customer_id), "
        f"0) AS usage_rank FROM `{database}`.fct_customer_revenue "
        f"WHERE period = {{period:String}}) "
        f"WHERE amount_rank <= {TOP} OR usage_rank BETWEEN 1 AND {TOP}",
        period=period,
    )

    def listed(rank: str) -> list[dict]:
        ranked = sorted(
            (row for row in rows if 0 < row[rank] <= TOP),
            key=lambda row: (row["currency"] if rank == "amount_rank" else "", row[rank]),
        )
        return [
            {
                "rank": int(row[rank]),
                "customer_id": row["customer_id"],
                "currency": row["currency"],
                "revenue": money(row["revenue"], row["currency"]),
                "revenue_status": row["revenue_status"],
                "events": int(row["events"]),
            }
            for row in ranked
        ]

    return {
        "report": "top-customers",
        "period": period,
        "by_amount": listed("amount_rank"),
        "by_usage": listed("usage_rank"),
    }


def anomalies(client: Client, database: str, period: str) -> dict:
    """The usage spikes of the period's days: the rule of the metering run's spike check."""
    first, following = period_bounds(period)
    rows = _rows(
        client,
        f"SELECT usage_date, customer_id, metric_code, events, baseline "
        f"FROM `{database}`.fct_usage_anomalies "
        f"WHERE usage_date >= {{first:Date}} AND usage_date < {{following:Date}} "
        f"ORDER BY usage_date, customer_id, metric_code",
        first=first,
        following=following,
    )
    return {
        "report": "anomalies",
        "period": period,
        "spikes": [
            {
                "day": row["usage_date"].isoformat(),
                "customer_id": row["customer_id"],
                "metric": row["metric_code"],
                "events": int(row["events"]),
                "baseline": int(row["baseline"]),
            }
            for row in rows
        ],
    }


def health(client: Client, database: str, period: str, now: datetime) -> dict:
    """Data and documents at a glance: quarantined lines by reason, days waiting to be
    metered, and the period's documents by status, gateway sync state and payment."""
    quarantine = _rows(
        client,
        f"SELECT reason, sum(lines) AS quarantined, "
        f"sumIf(lines, quarantined_date >= {{since:Date}}) AS last_7_days "
        f"FROM `{database}`.fct_quarantine_daily GROUP BY reason "
        f"ORDER BY quarantined DESC, reason",
        since=now.date() - timedelta(days=7),
    )
    documents = _rows(
        client,
        f"SELECT * FROM (SELECT 'invoice' AS document, status, "
        f"ifNull(sync_state, 'not synced') AS sync_state, "
        f"ifNull(payment_status, 'unknown') AS payment_status, count() AS documents "
        f"FROM `{database}`.fct_invoices WHERE period = {{period:String}} "
        f"GROUP BY status, sync_state, payment_status "
        f"UNION ALL SELECT 'credit note', status, if(status = 'synced', 'synced', 'not synced'), "
        f"'', count() FROM `{database}`.fct_credit_notes WHERE period = {{period:String}} "
        f"GROUP BY status) ORDER BY document DESC, status, sync_state, payment_status",
        period=period,
    )
    waiting = stale_days(client, database, FIRST_EVENT_DATE, now.date() + timedelta(days=2))
    return {
        "report": "health",
        "period": period,
        "quarantine": [
            {
                "reason": r["reason"],
                "lines": int(r["quarantined"]),
                "last_7_days": int(r["last_7_days"]),
            }
            for r in quarantine
        ],
        "days_to_meter": [day.isoformat() for day in waiting],
        "documents": [{**row, "documents": int(row["documents"])} for row in documents],
    }


REPORTS: dict[str, Callable[..., dict]] = {
    "revenue": revenue,
    "mrr": mrr,
    "top-customers": top_customers,
    "anomalies": anomalies,
}
#: What `billing report` and `/v1/reports/{name}` answer.
NAMES = (*REPORTS, "health")


def report(client: Client, database: str, name: str, period: str, now: datetime) -> dict:
    """The report `name` of `period` (`health` also needs the time now)."""
    missing = sorted(set(MARTS) - deployed(client, database, list(MARTS)))
    if missing:
        raise ReportUnavailable(
            f"the finance marts are not deployed ({', '.join(missing)}); run `billing bill "
            f"--period PERIOD` or `billing ingest` once, which deploys them"
        )
    if name == "health":
        return health(client, database, period, now)
    return REPORTS[name](client, database, period)


def _rows(client: Client, sql: str, **parameters) -> list[dict]:
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _periods_before(period: str, count: int) -> str:
    """The period `count` periods before `period` (a trend shows the ones after it)."""
    for _ in range(count):
        period = previous_period(period)
    return period
