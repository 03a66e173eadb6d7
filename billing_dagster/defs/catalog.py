"""The catalog tables: written by `billing catalog apply` from YAML, not by a run."""

import dagster as dg

CATALOG_TABLES = {
    "catalog_versions": "One row per applied catalog; the highest version is in force.",
    "catalog_metrics": "Metric definitions (immutable per code).",
    "catalog_plan_versions": "Plan versions (immutable) with their prices as canonical JSON.",
    "catalog_customers": "Customers and their tax rates.",
    "catalog_subscriptions": "Subscriptions with the plan version they are pinned to.",
    "catalog_credit_grants": "Prepaid credit grants.",
}

catalog_tables = [
    dg.AssetSpec(name, group_name="catalog", kinds={"clickhouse"}, description=description)
    for name, description in CATALOG_TABLES.items()
]
