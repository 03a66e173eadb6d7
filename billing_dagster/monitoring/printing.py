"""`billing status` for people: one titled table per part of the report."""

from __future__ import annotations

from billing_dagster.formatting import titled_table


def status_tables(report: dict) -> str:
    quarantine = report["quarantined"]
    adjustments = report["adjustments"]
    days = report["days_to_meter"]
    parts = [
        titled_table(
            "Sources",
            report["sources"],
            ["source", "events", "last_event", "last_load", "lag_hours"],
        ),
        f"Quarantined lines: {quarantine['lines']} ({quarantine['last_24h']} in the last 24 h)",
        f"Days waiting to be metered: {', '.join(days) if days else 'none'}",
        titled_table(
            "Checks failing",
            report["checks_failing"],
            ["check", "severity", "partition", "description"],
        ),
        titled_table(
            "Periods",
            report["periods"],
            ["period", "status", "invoices", "grace_ends", "awaiting_finalization"],
        ),
    ]
    if adjustments["carrier"]:
        late = adjustments["unbilled_late_periods"]
        parts.append(
            f"Late data of finalized periods not yet billed: {', '.join(late) if late else 'none'}"
            f" (billed with {adjustments['carrier']})"
        )
        parts.append(
            titled_table(
                f"Adjustments drafted on {adjustments['carrier']}, awaiting finalization",
                adjustments["drafted"],
                ["customer_id", "adjusts_period", "amount"],
            )
        )
    parts.append(
        titled_table(
            "Invoices disputed (opened or lost)",
            report["disputed_invoices"],
            ["invoice_id", "customer_id", "period", "dispute_status", "disputes"],
        )
    )
    parts.append(
        titled_table(
            "Webhook deliveries not done",
            report["webhooks"],
            ["event_id", "url", "state", "attempts", "next_attempt"],
        )
    )
    return "\n\n".join(parts)
