"""`billing report` for people: each report as a title, a sentence and its tables."""

from __future__ import annotations

from billing_dagster.formatting import titled_table
from billing_dagster.reports.finance import REVENUE_COLUMNS


def report_text(report: dict) -> str:
    return _TEXT[report["report"]](report)


def _revenue(report: dict) -> str:
    totals = ", ".join(
        f"{t['currency']} {t['revenue']}"
        + (" (provisional: the period is a draft)" if t["revenue_status"] == "provisional" else "")
        for t in report["totals"]
    )
    return "\n\n".join(
        [
            f"Revenue of {report['period']}: {totals or 'nothing billed'}",
            titled_table(
                "By plan",
                report["by_plan"],
                list(REVENUE_COLUMNS),
            ),
            titled_table(
                "Trend", report["trend"], ["period", "currency", "revenue", "revenue_status"]
            ),
        ]
    )


def _mrr(report: dict) -> str:
    totals = ", ".join(f"{t['currency']} {t['mrr']}" for t in report["totals"])
    return "\n\n".join(
        [
            f"MRR at the end of {report['period']}: {totals or 'none'}",
            titled_table(
                "Movements from the month before",
                report["totals"],
                ["currency", "previous_mrr", "new", "expansion", "contraction", "churn", "mrr"],
            ),
            titled_table(
                "Customers who moved it",
                report["movements"],
                ["customer_id", "currency", "movement", "previous_mrr", "mrr", "change"],
            ),
            titled_table("Trend", report["trend"], ["period", "currency", "mrr"]),
        ]
    )


def _top_customers(report: dict) -> str:
    columns = ["rank", "customer_id", "currency", "revenue", "revenue_status", "events"]
    return "\n\n".join(
        [
            f"Top customers of {report['period']}",
            titled_table("By amount billed (per currency)", report["by_amount"], columns),
            titled_table("By usage (billable events)", report["by_usage"], columns),
        ]
    )


def _anomalies(report: dict) -> str:
    spikes = report["spikes"]
    return f"Usage anomalies of {report['period']}: {len(spikes)} spikes\n\n" + titled_table(
        "Spikes", spikes, ["day", "customer_id", "metric", "events", "baseline"]
    )


def _health(report: dict) -> str:
    days = report["days_to_meter"]
    return "\n\n".join(
        [
            f"Health of {report['period']}",
            titled_table(
                "Quarantined lines", report["quarantine"], ["reason", "lines", "last_7_days"]
            ),
            f"Days waiting to be metered: {', '.join(days) if days else 'none'}",
            titled_table(
                "Documents",
                report["documents"],
                ["document", "status", "sync_state", "payment_status", "documents"],
            ),
        ]
    )


_TEXT = {
    "revenue": _revenue,
    "mrr": _mrr,
    "top-customers": _top_customers,
    "anomalies": _anomalies,
    "health": _health,
}
