"""Time-weighted sums and percentiles over the real pipeline: the value held at a period's
start carries over from the previous period, and a late event re-meters only its own day
yet changes what later days held (docs/invoicing.md, "Time-weighted sums", "Percentiles")."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from billing_dagster.catalog.model import Metric
from tests.catalogs import catalog_of, store
from tests.reference.usage import reference_ingest, usage_of_events
from tests.support import run, start_afresh

METRICS = (
    Metric("disk", "disk", "time_weighted_sum", "gb", unit="hour"),
    Metric("disk_days", "disk", "time_weighted_sum", "gb", group_by="region", unit="day"),
    Metric("disk_peak", "disk", "percentile", "gb", percentile=Decimal(100), bucket="1h"),
)
CATALOG = catalog_of(
    METRICS, {"c0": [(date(2026, 9, 1), None)], "c1": [(date(2026, 10, 21), None)]}
)


def line(event_id: str, customer: str, timestamp: str, gb: str, region: str = "eu") -> str:
    properties = f'{{"gb": {gb}, "region": "{region}"}}'
    return (
        f'{{"event_id": "{event_id}", "customer_id": "{customer}", "event_name": "disk", '
        f'"timestamp": "{timestamp}", "properties": {properties}}}'
    )


def quantities(capsys, period: str) -> dict[tuple[str, str, str | None], str]:
    rows = json.loads(run(capsys, "usage", "--period", period, "--format", "json"))
    return {(r["customer_id"], r["metric"], r["group"]): r["quantity"] for r in rows}


def test_carry_over_and_late_events(client, database, home, tmp_path, capsys):
    start_afresh(client, database, home)
    store(client, database, CATALOG)
    loads: list[list[str]] = []

    def ingest(*lines: str) -> None:
        content = "\n".join(lines) + "\n"
        loads.append([content])
        path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
        path.write_text(content)
        run(capsys, "ingest", str(path))

    def agrees_with_the_reference(period: str) -> None:
        events = reference_ingest(loads, CATALOG, datetime.now(UTC))
        expected = usage_of_events(events.events, CATALOG, period)
        assert json.loads(run(capsys, "usage", "--period", period, "--format", "json")) == expected

    ingest(
        line("e1", "c0", "2026-09-20T00:00:00Z", "10"),
        line("e2", "c0", "2026-10-11T12:00:00Z", "2.5"),
        line("e3", "c1", "2026-10-01T06:00:00Z", "0.1", "us"),
    )
    # 10 GB held from October 1 (carried over from September 20) to the 11th at noon, 252 h;
    # then 2.5 GB for 492 h. c1's window starts on the 21st: 0.1 GB held for 11 days, but
    # no report inside the window for its percentile.
    assert quantities(capsys, "2026-10") == {
        ("c0", "disk", None): "3750",
        ("c0", "disk_days", "eu"): "156.25",
        ("c0", "disk_peak", None): "2.5",
        ("c1", "disk", None): "26.4",
        ("c1", "disk_days", "us"): "1.1",
    }
    # No event in November: what October left held counts all month.
    assert quantities(capsys, "2026-11")[("c0", "disk", None)] == "1800"

    # Late: September 25 changes what October starts with (1 GB, not 10), though only that
    # day is metered again; October 5 adds 4 GB held until the 11th at noon.
    ingest(
        line("e4", "c0", "2026-09-25T00:00:00Z", "1"),
        line("e5", "c0", "2026-10-05T00:00:00Z", "4"),
    )
    october = quantities(capsys, "2026-10")
    assert october[("c0", "disk", None)] == "1950"  # 96 + 624 + 1230
    assert october[("c0", "disk_peak", None)] == "4"
    for period in ("2026-09", "2026-10", "2026-11"):
        agrees_with_the_reference(period)


def test_a_daily_table_metered_before_gains_the_new_columns(
    client, database, home, tmp_path, capsys
):
    """A warehouse whose daily table predates these aggregations: deploying the views adds
    their columns, and re-metering fills them."""
    start_afresh(client, database, home)
    store(client, database, CATALOG)
    path = tmp_path / "events.jsonl"
    path.write_text(line("e1", "c0", "2026-10-31T00:00:00Z", "2") + "\n")
    run(capsys, "ingest", str(path))
    daily = f"`{database}`.fct_metric_usage_daily"
    client.command(
        f"ALTER TABLE {daily} DROP COLUMN first_timestamp, DROP COLUMN held_value_ms, "
        f"DROP COLUMN bucket_sums"
    )
    client.command(f"TRUNCATE TABLE `{database}`.dbt_deployments")

    run(capsys, "backfill", "--from", "2026-10-31", "--to", "2026-10-31")

    assert quantities(capsys, "2026-10") == {
        ("c0", "disk", None): "48",
        ("c0", "disk_days", "eu"): "2",
        ("c0", "disk_peak", None): "2",
    }
