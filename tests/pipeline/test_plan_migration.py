"""`billing migrate` end to end on the real warehouse and dbt: a migration on the 16th of
October with usage on both sides. The dry run's invoices under the migrated catalog are the
drafts `billing bill` writes after the migration, line for line; fixed fees are prorated by
day on each side; the dry run changes nothing; a second run changes nothing; the old catalog
file is refused; a date in a finalized period is refused."""

from __future__ import annotations

import json
from datetime import date

from billing_dagster.catalog.migration import Migration, migrate
from billing_dagster.catalog.migration_log import apply_migration, planned_migration
from billing_dagster.catalog.store import apply_catalog, latest_catalog_version, load_catalog
from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.warehouse.scratch import _view_of_table, scratch_warehouse
from tests import processes
from tests.support import cli, run

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "31.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "0.01"}]
      - version: 2
        effective_from: 2026-10-01
        currency: USD
        fixed_fees: [{code: platform, amount: "62.00"}]
        charges:
          - metric: calls
            model: graduated
            tiers:
              - {up_to: 10, unit_price: "0"}
              - {up_to: null, unit_price: "0.02"}
  - code: team
    name: Team
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: seat, amount: "5.00"}]
customers:
  - id: acme
    name: Acme
    tax_rate: "0.20"
    subscriptions:
      - plan: pro
        start: 2026-01-01
        discounts: [{type: percentage, value: "10", months: 12}]
  - id: globex
    name: Globex
    subscriptions: [{plan: pro, start: 2026-09-01}]
  - id: initech
    name: Initech
    subscriptions: [{plan: team, start: 2026-01-01}]
"""

#: CATALOG as the user brings it up to date after the migration: the 10% discount of 12
#: months from January has 3 months left from October.
MIGRATED_CATALOG = CATALOG.replace(
    """\
      - plan: pro
        start: 2026-01-01
        discounts: [{type: percentage, value: "10", months: 12}]
""",
    """\
      - plan: pro
        start: 2026-01-01
        end: 2026-10-16
        discounts: [{type: percentage, value: "10", months: 12}]
      - plan: pro
        version: 2
        start: 2026-10-16
        discounts: [{type: percentage, value: "10", months: 3}]
""",
).replace(
    "subscriptions: [{plan: pro, start: 2026-09-01}]",
    "subscriptions:\n      - {plan: pro, start: 2026-09-01, end: 2026-10-16}\n"
    "      - {plan: pro, version: 2, start: 2026-10-16}",
)

MIGRATE = ("migrate", "--plan", "pro", "--from-version", "1", "--to-version", "2")
MID_OCTOBER = ("--effective", "2026-10-16")


def calls(customer: str, day: int, count: int) -> str:
    return "".join(
        json.dumps({"event_id": f"{customer}-{day}-{n}", "customer_id": customer,
                    "event_name": "api_request", "timestamp": f"2026-10-{day:02d}T09:00:00Z"})
        + "\n"
        for n in range(count)
    )  # fmt: skip


def snapshot(client, database: str) -> dict:
    """Every table and view of the warehouse with its row count, and the databases."""
    tables = client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name",
        parameters={"db": database},
    ).result_rows
    counts = {
        name: client.command(f"SELECT count() FROM `{database}`.`{name}`")
        for name, engine in tables
        if engine.endswith("MergeTree")
    }
    databases = client.query("SELECT name FROM system.databases ORDER BY name").result_rows
    return {"tables": tables, "counts": counts, "databases": databases}


def lines(invoice: dict) -> list[tuple]:
    return [
        (line["kind"], line["code"], line.get("plan_version"), line.get("quantity"), line["amount"])
        for line in invoice["lines"]
    ]


def test_a_mid_month_migration_bills_what_its_dry_run_showed(
    client, database, home, tmp_path, capsys
):
    catalog, events = tmp_path / "catalog.yaml", tmp_path / "events.jsonl"
    catalog.write_text(CATALOG)
    # acme: 10 calls before the 16th, 30 after; globex: 5 after
    events.write_text(calls("acme", 5, 10) + calls("acme", 20, 30) + calls("globex", 25, 5))
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(events))
    run(capsys, "bill", "--period", "2026-10")
    billed_before = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    before = snapshot(client, database)

    preview = json.loads(run(capsys, *MIGRATE, *MID_OCTOBER, "--dry-run", "--format", "json"))

    assert snapshot(client, database) == before
    assert latest_catalog_version(client, database) == 1
    assert [(p["customer_id"], p["period"]) for p in preview] == [
        ("acme", "2026-10"),
        ("globex", "2026-10"),
    ]
    assert [p["current"] for p in preview] == billed_before[:2]  # acme, globex; not initech
    acme_now, acme_then = preview[0]["current"], preview[0]["migrated"]
    assert lines(acme_now) == [
        ("fixed_fee", "platform", 1, "1", "31.00"),
        ("usage", "calls", 1, "40", "0.40"),
        ("discount", None, 1, None, "-3.14"),
        ("tax", None, None, None, "5.65"),
    ]
    # 15 days of 31 on version 1, 16 on version 2 (whose first 10 calls are free); the 10%
    # discount of 12 months from January goes on across the change
    assert lines(acme_then) == [
        ("fixed_fee", "platform", 1, "1", "15.00"),
        ("usage", "calls", 1, "10", "0.10"),
        ("discount", None, 1, None, "-1.51"),
        ("fixed_fee", "platform", 2, "1", "32.00"),
        ("usage", "calls", 2, "30", "0.40"),
        ("discount", None, 2, None, "-3.24"),
        ("tax", None, None, None, "8.55"),
    ]
    fees = [line for line in acme_then["lines"] if line["kind"] == "fixed_fee"]
    assert [(f["active_days"], f["period_days"]) for f in fees] == [(15, 31), (16, 31)]
    assert (acme_now["total"], acme_then["total"]) == ("33.91", "51.30")
    text = run(capsys, *MIGRATE, *MID_OCTOBER, "--dry-run")
    code, _, err = cli(capsys, *MIGRATE, *MID_OCTOBER, "--dry-run", "--write", "x.yaml")
    assert (code, err) == (
        2,
        "billing: --write: a dry run changes nothing, so there is nothing to write\n",
    )
    assert text.startswith("acme, 2026-10, current catalog\n")
    assert "globex, 2026-10, migrated catalog\n" in text

    code, out, err = cli(capsys, *MIGRATE, *MID_OCTOBER, "--format", "json")
    applied = json.loads(out)
    assert err == (
        "billing: your catalog file still has acme, globex on version 1; before its next "
        "`billing catalog apply`, end those subscriptions on 2026-10-16 and add ones on "
        "version 2 from that day, or write the catalog in force with --write FILE "
        "(docs/invoicing.md, Plan migrations)\n"
    )
    assert applied == {
        "catalog_version": 2,
        "changed": True,
        "moved": ["acme", "globex"],
        "already_moved": [],
    }
    [(source, document)] = client.query(
        f"SELECT source_file, document FROM `{database}`.catalog_versions WHERE catalog_version = 2"
    ).result_rows
    assert source == "billing migrate"
    assert document.startswith(
        '# billing migrate: plan "pro" version 1 -> 2 on 2026-10-16; moved: acme, globex\n'
        "metrics:\n"
    )
    run(capsys, "bill", "--period", "2026-10")
    billed = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    drafts = {invoice["customer_id"]: invoice for invoice in billed}
    for pair in preview:
        draft = drafts[pair["customer_id"]]
        assert draft["lines"] == pair["migrated"]["lines"]
        assert {k: v for k, v in draft.items() if k != "invoice_id"} == {
            k: v for k, v in pair["migrated"].items() if k != "invoice_id"
        }

    code, out, err = cli(capsys, *MIGRATE, *MID_OCTOBER, "--format", "json")
    assert (code, json.loads(out)["changed"], json.loads(out)["catalog_version"]) == (0, False, 2)
    assert err == "billing: already migrated: acme, globex; nothing changed\n"
    run(capsys, "dbt", "build", "--select", "stg_billing__catalog_migrations")
    assert client.query(
        f"SELECT plan_code, from_version, to_version, effective_date, requested_customers, "
        f"moved_customers, catalog_version FROM `{database}`.stg_billing__catalog_migrations"
    ).result_rows == [("pro", 1, 2, date(2026, 10, 16), [], ["acme", "globex"], 2)]

    code, _, err = cli(capsys, "catalog", "apply", str(catalog))
    assert code == 2
    assert err.splitlines()[0] == (
        f'billing: {catalog}: customers[0].subscriptions[0]: customer "acme" was moved from '
        'plan "pro" version 1 to version 2 on 2026-10-16 by `billing migrate` (catalog '
        "version 2), but this file still has it on version 1 that day and would undo the "
        "migration; end this subscription on 2026-10-16 and add one with plan: pro, "
        "version: 2, start: 2026-10-16 (docs/invoicing.md, Plan migrations)"
    )
    assert len(err.splitlines()) == 2  # globex too
    assert latest_catalog_version(client, database) == 2
    # the file brought up to date is the migrated catalog itself: nothing to apply
    catalog.write_text(MIGRATED_CATALOG)
    assert json.loads(run(capsys, "catalog", "apply", str(catalog)))["changed"] is False
    # or written by billing migrate: the catalog in force, as YAML
    written = tmp_path / "written.yaml"
    code, out, err = cli(capsys, *MIGRATE, *MID_OCTOBER, "--write", str(written))
    assert (code, json.loads(out)["changed"]) == (0, False)
    assert err.splitlines()[-1] == f"billing: wrote the catalog in force to {written}"
    assert written.read_text().startswith(
        '# The catalog in force (version 2), written by `billing migrate` after moving plan "pro" '
        "version 1 -> 2 on 2026-10-16.\nmetrics:\n"
    )
    assert json.loads(run(capsys, "catalog", "apply", str(written)))["changed"] is False

    run(capsys, "finalize", "--period", "2026-10")
    back = ("migrate", "--plan", "pro", "--from-version", "2", "--to-version", "1")
    code, _, err = cli(capsys, *back, "--effective", "2026-10-20")
    assert (code, err) == (
        2,
        "billing: --effective 2026-10-20 is inside or before the finalized period 2026-10, "
        "whose invoices never change; choose a date on or after 2026-11-01\n",
    )


def test_a_migration_killed_before_its_audit_row_is_completed_by_the_next_run(
    client, database, tmp_path
):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    apply_catalog(client, database, validate_catalog_file(path), str(path), CATALOG)
    migration = Migration("pro", 1, 2, date(2026, 10, 16), ("globex", "acme"))
    plan = planned_migration(client, database, migration, None)
    apply_catalog(client, database, plan.catalog, "billing migrate", "")  # then killed

    again = apply_migration(client, database, migration, None)
    assert (again.changed, again.catalog_version, again.plan.already_moved) == (
        False,
        2,
        ("globex", "acme"),
    )
    apply_migration(client, database, migration, None)
    rows = client.query(
        f"SELECT plan, from_version, to_version, effective, requested_customers, "
        f"moved_customers, catalog_version FROM `{database}`.catalog_migrations"
    ).result_rows
    assert rows == [("pro", 1, 2, date(2026, 10, 16), ["acme", "globex"], ["globex", "acme"], 2)]


def test_a_scratch_warehouse_is_gone_after_use_and_after_a_kill(client, database, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    catalog = validate_catalog_file(path)
    apply_catalog(client, database, catalog, str(path), CATALOG)
    client.command(f"CREATE DATABASE `{database}__scratch_killed`")  # left by a killed run
    migrated = migrate(catalog, Migration("pro", 1, 2, date(2026, 10, 16)), None).catalog

    with scratch_warehouse(client, database, migrated) as scratch:
        assert load_catalog(client, scratch, 1) == migrated
        assert client.command(f"SELECT count() FROM `{scratch}`.catalog_subscriptions") == 5
        assert scratch_databases(client, database) == [scratch]
        # a table listed, then gone before its view was made (a finished load's staging table)
        _view_of_table(client, database, scratch, "load_9")
        assert not client.command(f"EXISTS TABLE `{scratch}`.load_9")

    assert scratch_databases(client, database) == []
    assert latest_catalog_version(client, database) == 1
    assert load_catalog(client, database, 1) == catalog


def scratch_databases(client, database: str) -> list[str]:
    return [
        name
        for (name,) in client.query(
            "SELECT name FROM system.databases WHERE startsWith(name, {p:String})",
            parameters={"p": f"{database}__scratch_"},
        ).result_rows
    ]


def test_two_migrations_at_once_make_one_catalog_version(tmp_path):
    """Each a process of its own on one home: the catalog lock makes them one after the
    other, so the second finds the customers moved."""
    home, catalog = tmp_path / "home", tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    try:
        processes.run(home, "catalog", "apply", str(catalog))
        both = [processes.billing(home, *MIGRATE, *MID_OCTOBER, "--format", "json") for _ in "ab"]
        results = [json.loads(processes.finish(process)) for process in both]
        assert sorted((r["changed"], r["catalog_version"]) for r in results) == [
            (False, 2),
            (True, 2),
        ]
        client = processes.warehouse_client(home)
        assert client.command("SELECT count() FROM billing.catalog_migrations") == 1
    finally:
        processes.stop_warehouse(home)
