"""`billing sync` and `billing void`: the gateway sync through its Dagster job, and voids."""

from __future__ import annotations

from pathlib import Path

from billing_dagster.cli.runs import JobRunner
from billing_dagster.periods import partition_key


def run_sync(home: Path, period: str) -> dict:
    """Launch `sync_job` for the period; returns the sync's summary (synced, already synced,
    voided, failed with reasons) and the totals check."""
    result = JobRunner(home).run("sync_job", partition_key=partition_key(period))
    (materialization,) = result.asset_materializations_for_node("gateway_invoices")
    summary = dict(materialization.metadata["summary"].value)
    (check,) = result.get_asset_check_evaluations()
    summary["totals_check"] = {
        "passed": check.passed,
        "checked": check.metadata["checked"].value,
        "mismatches": check.metadata["mismatches"].value,
    }
    if check.metadata["error"].value:
        summary["totals_check"]["error"] = check.metadata["error"].value
    return summary
