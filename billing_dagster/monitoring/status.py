"""`billing status`: what finance and operations need to know at a glance.

Per source the last event and load and the lag; quarantine; days waiting to be metered;
asset checks failing (read from the Dagster instance by the caller); per billed period its
state, and drafts whose grace period is over; late data of finalized periods not yet billed
as adjustments, and adjustments drafted but not finalized; invoices whose payment is
disputed (opened or lost).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from billing_dagster.disputes.store import dispute_history, disputed_invoices
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.invoicing.finalization import carrier_period, grace_ends
from billing_dagster.invoicing.store import (
    billed_periods,
    finalizations,
    late_periods,
    latest_credit_notes,
    latest_invoices,
    latest_run_load_seq,
    newest_loads,
)
from billing_dagster.metering.ledger import stale_days
from billing_dagster.webhooks.delivery import delivery_status


def status_report(
    client: Client, database: str, failing_checks: list[dict], now: datetime, grace_days: int
) -> dict:
    return {
        "sources": sources(client, database, now),
        "quarantined": quarantined(client, database),
        "days_to_meter": [
            day.isoformat()
            for day in stale_days(
                client, database, FIRST_EVENT_DATE, now.date() + timedelta(days=2)
            )
        ],
        "checks_failing": failing_checks,
        "periods": periods(client, database, now.date(), grace_days),
        "adjustments": adjustments(client, database),
        "disputed_invoices": disputed_invoices(dispute_history(client, database)),
        "webhooks": delivery_status(client, database, now),
    }


def sources(client: Client, database: str, now: datetime) -> list[dict]:
    rows = client.query(
        f"SELECT ifNull(e.source, '(no source)') AS name, count(), max(e.timestamp), "
        f"max(l.loaded_at) FROM `{database}`.raw_events AS e "
        f"INNER JOIN `{database}`.event_loads AS l ON e.load_seq = l.load_seq "
        f"GROUP BY name ORDER BY name"
    ).result_rows
    return [
        {
            "source": name,
            "events": int(events),
            "last_event": _utc_text(last_event),
            "last_load": _utc_text(last_load),
            "lag_hours": round((now - last_event.replace(tzinfo=UTC)).total_seconds() / 3600, 1),
        }
        for name, events, last_event, last_load in rows
    ]


def quarantined(client: Client, database: str) -> dict:
    total, last_day = client.query(
        f"SELECT count(), countIf(quarantined_at >= now64(3) - INTERVAL 1 DAY) "
        f"FROM `{database}`.quarantined_events"
    ).result_rows[0]
    return {"lines": int(total), "last_24h": int(last_day)}


def periods(client: Client, database: str, today: date, grace_days: int) -> list[dict]:
    final = {f.period for f in finalizations(client, database)}
    report = []
    for period in billed_periods(client, database):
        invoices = latest_invoices(client, database, period) or []
        ends = grace_ends(period, grace_days)
        state = "finalized" if period in final else "draft"
        report.append(
            {
                "period": period,
                "status": state,
                "invoices": len(invoices),
                "grace_ends": ends.isoformat(),
                "awaiting_finalization": state == "draft" and today >= ends,
            }
        )
    return report


def adjustments(client: Client, database: str) -> dict:
    """Late data of finalized periods: waiting to be billed, or billed in a draft."""
    carrier = carrier_period([f.period for f in finalizations(client, database)])
    if carrier is None:
        return {"carrier": None, "unbilled_late_periods": [], "drafted": []}
    seen = latest_run_load_seq(client, database).get(carrier, 0)
    newest = newest_loads(client, database)
    late = late_periods(client, database, carrier)
    drafted = [
        {
            "customer_id": invoice["customer_id"],
            "adjusts_period": line["code"],
            "amount": line["amount"],
        }
        for invoice in latest_invoices(client, database, carrier) or []
        for line in invoice["lines"]
        if line["kind"] == "adjustment"
    ] + [
        {
            "customer_id": note["customer_id"],
            "adjusts_period": note["adjusts_period"],
            "amount": f"-{note['total']}",
        }
        for note in latest_credit_notes(client, database, carrier) or []
    ]
    return {
        "carrier": carrier,
        "unbilled_late_periods": [p for p in late if newest[p] > seen],
        "drafted": sorted(drafted, key=lambda row: (row["adjusts_period"], row["customer_id"])),
    }


def _utc_text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
