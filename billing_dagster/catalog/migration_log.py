"""Plan migrations in the warehouse: each made as a new catalog version, and an append-only
audit row (`catalog_migrations`) that also lets `catalog apply` refuse a file that would
undo one (catalog/migration.py is the pure part)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.migration import (
    Migration,
    MigrationPlan,
    RecordedMigration,
    migrate,
    undone,
)
from billing_dagster.catalog.model import Catalog
from billing_dagster.catalog.store import apply_catalog, latest_catalog_version, load_catalog
from billing_dagster.catalog.yaml_writer import catalog_yaml


@dataclass(frozen=True)
class MigrationResult:
    plan: MigrationPlan
    catalog_version: int
    changed: bool  # False: every customer had been moved already; nothing was written


def planned_migration(
    client: Client, database: str, migration: Migration, last_finalized: str | None
) -> MigrationPlan:
    """The migration applied to the catalog in force (refused as `migrate` refuses)."""
    current = load_catalog(client, database, latest_catalog_version(client, database))
    return migrate(current, migration, last_finalized)


def apply_migration(
    client: Client, database: str, migration: Migration, last_finalized: str | None
) -> MigrationResult:
    """Make the migration a new catalog version and record it; run again, it changes
    nothing. The caller holds the home's catalog lock. A run killed between the two writes
    is completed by the next: it finds the customers moved and records the migration."""
    plan = planned_migration(client, database, migration, last_finalized)
    version = latest_catalog_version(client, database)
    changed = False
    if plan.moved:
        note = f"# billing migrate: {migration.describe()}; moved: {', '.join(plan.moved)}\n"
        document = note + catalog_yaml(plan.catalog)
        applied = apply_catalog(client, database, plan.catalog, "billing migrate", document)
        version, changed = applied.version, applied.changed
    if changed or not _recorded(client, database, migration):
        _record(client, database, migration, plan.moved or plan.already_moved, version)
    return MigrationResult(plan, version, changed)


def undone_migrations(client: Client, database: str, candidate: Catalog) -> list[str]:
    """Problems of a catalog file that puts migrated customers back where they were moved
    from (see `migration.undone`)."""
    version = latest_catalog_version(client, database)
    rows = client.query(
        f"SELECT plan, from_version, to_version, effective, requested_customers, "
        f"moved_customers, catalog_version FROM `{database}`.catalog_migrations "
        f"ORDER BY migrated_at"
    ).result_rows
    if version is None or not rows:
        return []
    recorded = [
        RecordedMigration(
            Migration(plan, source, target, effective, tuple(requested) or None),
            tuple(moved),
            made,
        )
        for plan, source, target, effective, requested, moved, made in rows
    ]
    return undone(candidate, load_catalog(client, database, version), recorded)


def _recorded(client: Client, database: str, migration: Migration) -> bool:
    return bool(
        client.command(
            f"SELECT count() FROM `{database}`.catalog_migrations WHERE plan = {{plan:String}} "
            f"AND from_version = {{source:UInt32}} AND to_version = {{target:UInt32}} "
            f"AND effective = {{effective:Date}} "
            f"AND requested_customers = {{customers:Array(String)}}",
            parameters=_key(migration),
        )
    )


def _key(migration: Migration) -> dict:
    return {
        "plan": migration.plan,
        "source": migration.from_version,
        "target": migration.to_version,
        "effective": migration.effective,
        "customers": sorted(migration.customers or ()),
    }


def _record(
    client: Client, database: str, migration: Migration, moved: tuple[str, ...], version: int
) -> None:
    key = _key(migration)
    client.insert(
        f"`{database}`.catalog_migrations",
        [
            [
                datetime.now(UTC),
                key["plan"],
                key["source"],
                key["target"],
                key["effective"],
                key["customers"],
                list(moved),
                version,
            ]
        ],
        column_names=[
            "migrated_at",
            "plan",
            "from_version",
            "to_version",
            "effective",
            "requested_customers",
            "moved_customers",
            "catalog_version",
        ],
    )
