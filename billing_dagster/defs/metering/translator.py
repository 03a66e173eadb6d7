"""How dbt nodes appear in Dagster: sources are the tables the Python side writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator


class MeteringTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node: Mapping[str, Any] = manifest["sources"].get(unique_id) or manifest["nodes"][unique_id]
        if node["resource_type"] == "source":
            # A source is the table of the same name, written by ingestion or catalog apply.
            return spec.replace_attributes(key=dg.AssetKey(node["name"]))
        layer = node["fqn"][1] if len(node["fqn"]) > 2 else "metering"
        group = "finance" if "finance" in node["fqn"] else "metering"
        return spec.replace_attributes(group_name=group).merge_attributes(tags={"layer": layer})
