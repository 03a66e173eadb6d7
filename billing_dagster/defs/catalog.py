"""The catalog tables: written by `billing catalog apply` from YAML, not by a run."""

import dagster as dg

from billing_dagster.catalog.tables import CATALOG_TABLES

catalog_tables = [
    dg.AssetSpec(name, group_name="catalog", kinds={"clickhouse"}, description=description)
    for name, description in CATALOG_TABLES.items()
]
