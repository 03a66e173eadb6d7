"""The catalog in the warehouse: every applied catalog is a new numbered version.

Readers (dbt staging models, the loader) use the highest version. Its rows are written
first and the `catalog_versions` row last, so a half-written version is never in force.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.gc_pause import gc_paused
from billing_dagster.catalog.model import Catalog, Metric, PlanVersion, effective_entitlements
from billing_dagster.catalog.prices import ChargePrice, PriceTier, subscription_prices
from billing_dagster.catalog.serialize import (
    canonical_json,
    catalog_from_json,
    catalog_part_from_json,
)
from billing_dagster.erasure.tombstones import restored_names


class CatalogConflict(Exception):
    """The catalog would change something that must not change; nothing was written."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AppliedCatalog:
    version: int
    changed: bool  # False when the same catalog was already in force


#: Rows of the catalog in force: the highest applied version (catalog apply writes it last).
#: The same rule as the dbt macro `catalog_in_force`, for queries of the catalog tables that
#: run before the dbt views exist. `{db}` is the quoted database.
IN_FORCE = "catalog_version = (SELECT max(catalog_version) FROM {db}.catalog_versions)"


def latest_catalog_version(client: Client, database: str) -> int | None:
    version = client.command(f"SELECT max(catalog_version) FROM `{database}`.catalog_versions")
    return int(version) or None


@gc_paused()
def apply_catalog(
    client: Client, database: str, catalog: Catalog, source_file: str, document: str
) -> AppliedCatalog:
    """Store `catalog` as the new version, unless it is the one in force already."""
    db = f"`{database}`"
    catalog_json = canonical_json(catalog)
    digest = hashlib.sha256(catalog_json.encode()).hexdigest()
    current = latest_catalog_version(client, database)
    if current is not None:
        in_force = client.command(
            f"SELECT content_sha256 FROM {db}.catalog_versions WHERE catalog_version = {current}"
        )
        if in_force == digest:
            _add_entitlements_if_missing(client, db, current, catalog)
            return AppliedCatalog(current, changed=False)
    problems = _immutability_problems(client, db, catalog)
    problems += restored_names(client, database, catalog)  # a tombstone never changes in force
    if current is not None:
        problems += _removal_problems(client, db, current, catalog)
    if problems:
        raise CatalogConflict(problems)
    version = (current or 0) + 1
    _discard_unfinished_versions(client, db, version)
    _insert_rows(client, db, version, catalog)
    client.insert(
        f"{db}.catalog_versions",
        [[version, digest, source_file, document, catalog_json, datetime.now(UTC)]],
        column_names=[
            "catalog_version",
            "content_sha256",
            "source_file",
            "document",
            "catalog_json",
            "applied_at",
        ],
    )
    return AppliedCatalog(version, changed=True)


def load_catalog(client: Client, database: str, version: int) -> Catalog:
    """The catalog exactly as applied under `version`. Read as a typed column, never as
    `command()`'s escaped text, so every quote and backslash comes back as written."""
    [(text,)] = client.query(
        f"SELECT catalog_json FROM `{database}`.catalog_versions "
        f"WHERE catalog_version = {{v:UInt32}}",
        parameters={"v": version},
    ).result_rows
    return catalog_from_json(text)


def load_catalog_part(client: Client, database: str, version: int, name: str) -> Any:
    """One top-level part (`alerts`, `quota_grants`...) of the catalog applied under
    `version`, read without the rest."""
    [(text,)] = client.query(
        f"SELECT JSONExtractRaw(catalog_json, {{name:String}}) FROM `{database}`.catalog_versions "
        f"WHERE catalog_version = {{v:UInt32}}",
        parameters={"v": version, "name": name},
    ).result_rows
    return catalog_part_from_json(name, text)


def metric_digest(metric: Metric) -> str:
    return hashlib.sha256(canonical_json(metric).encode()).hexdigest()


def plan_version_digest(version: PlanVersion) -> str:
    return hashlib.sha256(canonical_json(version).encode()).hexdigest()


#: Tables with rows per catalog version; `catalog_versions`, written last, commits them.
_VERSIONED_TABLES = (
    "catalog_metrics",
    "catalog_plan_versions",
    "catalog_customers",
    "catalog_subscriptions",
    "catalog_charge_prices",
    "catalog_price_tiers",
    "catalog_credit_grants",
)


def _discard_unfinished_versions(client: Client, db: str, version: int) -> None:
    """Remove rows an apply wrote before it died, so they never join this version's."""
    for table in _VERSIONED_TABLES:
        client.command(
            f"DELETE FROM {db}.{table} WHERE catalog_version >= {version}",
            settings={"mutations_sync": 2},
        )


def _removal_problems(client: Client, db: str, current: int, catalog: Catalog) -> list[str]:
    """Customers of the catalog in force that `catalog` drops although events or invoices
    name them: their usage and invoices would lose the customer that explains them."""
    kept = [customer.id for customer in catalog.customers]
    rows = client.query(
        f"SELECT customer_id FROM {db}.catalog_customers WHERE catalog_version = {current} "
        f"AND customer_id NOT IN {{kept:Array(String)}} AND (customer_id IN "
        f"(SELECT customer_id FROM {db}.raw_events) OR customer_id IN "
        f"(SELECT customer_id FROM {db}.invoices)) ORDER BY customer_id",
        parameters={"kept": kept},
    ).result_rows
    return [
        f'customers: customer "{customer}" is missing, but it has events or invoices; keep '
        f"it and end its subscriptions (end: YYYY-MM-DD) instead"
        for (customer,) in rows
    ]


def _immutability_problems(client: Client, db: str, catalog: Catalog) -> list[str]:
    """Plan versions and metric definitions that exist already must keep their content:
    invoices of past periods were computed from them and must reproduce to the cent."""
    stored_versions = dict(
        ((plan, version), digest)
        for plan, version, digest in client.query(
            f"SELECT plan, version, argMax(content_sha256, catalog_version) "
            f"FROM {db}.catalog_plan_versions GROUP BY plan, version"
        ).result_rows
    )
    stored_metrics = dict(
        client.query(
            f"SELECT code, argMax(definition_sha256, catalog_version) "
            f"FROM {db}.catalog_metrics GROUP BY code"
        ).result_rows
    )
    problems = []
    for plan_index, plan in enumerate(catalog.plans):
        for version_index, version in enumerate(plan.versions):
            stored = stored_versions.get((plan.code, version.version))
            if stored and stored != plan_version_digest(version):
                problems.append(
                    f"plans[{plan_index}].versions[{version_index}]: plan {plan.code!r} "
                    f"version {version.version} already exists with different content; plan "
                    f"versions are immutable, so add the change as version "
                    f"{max(v.version for v in plan.versions) + 1} instead"
                )
    for index, metric in enumerate(catalog.metrics):
        stored = stored_metrics.get(metric.code)
        if stored and stored != metric_digest(metric):
            problems.append(
                f"metrics[{index}]: metric {metric.code!r} already exists with a different "
                f"definition; past usage was metered with it, so define the new meaning under "
                f"a new metric code"
            )
    return problems


def _insert_rows(client: Client, db: str, version: int, catalog: Catalog) -> None:
    _insert_if_any(
        client,
        f"{db}.catalog_metrics",
        [
            [
                version,
                m.code,
                m.event_name,
                m.aggregation,
                m.property,
                {k: list(v) for k, v in m.filters.items()},
                m.group_by,
                m.unit,
                m.percentile,
                m.bucket,
                metric_digest(m),
            ]
            for m in catalog.metrics
        ],
        column_names=[
            "catalog_version",
            "code",
            "event_name",
            "aggregation",
            "property",
            "filters",
            "group_by",
            "unit",
            "percentile",
            "bucket",
            "definition_sha256",
        ],
    )
    _insert_if_any(
        client,
        f"{db}.catalog_plan_versions",
        [
            [
                version,
                plan.code,
                plan.name,
                v.version,
                v.effective_from,
                v.currency,
                canonical_json(v),
                plan_version_digest(v),
            ]
            for plan in catalog.plans
            for v in plan.versions
        ],
        column_names=[
            "catalog_version",
            "plan",
            "plan_name",
            "version",
            "effective_from",
            "currency",
            "content_json",
            "content_sha256",
        ],
    )
    _insert_if_any(
        client,
        f"{db}.catalog_customers",
        [
            [version, c.id, c.name, c.tax_rate, c.gateway or "", c.timezone]
            for c in catalog.customers
        ],
        column_names=["catalog_version", "customer_id", "name", "tax_rate", "gateway", "timezone"],
    )
    _insert_if_any(
        client,
        f"{db}.catalog_subscriptions",
        [
            [version, s.id, s.customer, s.plan, s.version, s.start, s.end, canonical_json(s)]
            for s in catalog.subscriptions
        ],
        column_names=[
            "catalog_version",
            "subscription_id",
            "customer_id",
            "plan",
            "plan_version",
            "start_date",
            "end_date",
            "content_json",
        ],
    )
    _insert_prices(client, db, version, catalog)
    _insert_entitlements(client, db, version, catalog)
    _insert_if_any(
        client,
        f"{db}.catalog_credit_grants",
        [
            [version, g.id, g.customer, g.amount, g.effective, g.expires, g.priority]
            for g in catalog.credit_grants
        ],
        column_names=[
            "catalog_version",
            "grant_id",
            "customer_id",
            "amount",
            "effective",
            "expires",
            "priority",
        ],
    )


def _add_entitlements_if_missing(client: Client, db: str, version: int, catalog: Catalog) -> None:
    """A catalog applied by a release that did not store features gets them when applied
    again (its content, and so its version, is unchanged)."""
    stored = client.command(
        f"SELECT count() FROM {db}.catalog_entitlements WHERE catalog_version = {version}"
    )
    if not stored:
        _insert_entitlements(client, db, version, catalog)


def _insert_entitlements(client: Client, db: str, version: int, catalog: Catalog) -> None:
    rows = []
    for s in catalog.subscriptions:
        for e in effective_entitlements(catalog.plan_version(s.plan, s.version), s.overrides):
            metered = e.kind == "metered"
            rows.append(
                [
                    version,
                    s.id,
                    s.customer,
                    e.feature,
                    e.kind,
                    e.metric_code if metered else None,
                    e.limit,
                    e.enforcement if metered else None,
                    e.period if metered else None,
                    e.enabled,
                    canonical_json(e.config) if e.config is not None else None,
                ]
            )
    _insert_if_any(
        client,
        f"{db}.catalog_entitlements",
        rows,
        column_names=[
            "catalog_version",
            "subscription_id",
            "customer_id",
            "feature",
            "kind",
            "metric_code",
            "limit_quantity",
            "enforcement",
            "period",
            "enabled",
            "config_json",
        ],
    )
    _insert_if_any(
        client,
        f"{db}.catalog_quota_grants",
        [
            [version, g.id, g.customer, g.feature, g.units, g.effective, g.expires, g.priority]
            for g in catalog.quota_grants
        ],
        column_names=[
            "catalog_version",
            "grant_id",
            "customer_id",
            "feature",
            "units",
            "effective",
            "expires",
            "priority",
        ],
    )


def _insert_prices(client: Client, db: str, version: int, catalog: Catalog) -> None:
    prices, tiers = subscription_prices(catalog)
    for table, rows, kind in (
        ("catalog_charge_prices", prices, ChargePrice),
        ("catalog_price_tiers", tiers, PriceTier),
    ):
        _insert_if_any(
            client,
            f"{db}.{table}",
            [(version, *row) for row in rows],
            column_names=["catalog_version", *kind._fields],
        )


def _insert_if_any(client: Client, table: str, rows: list, column_names: list[str]) -> None:
    if rows:
        client.insert(table, rows, column_names=column_names)
