"""The dbt project as files: where it is, which version of it the warehouse's views were
built from, and whether that is the version in the repository."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml
from clickhouse_connect.driver.client import Client

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
#: The incremental model of usage per day: what a metering run computes.
DAILY_MODEL = "fct_metric_usage_daily"


@cache
def project_vars() -> dict:
    """The `vars` of dbt_project.yml: the rules the models and the Python side share."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def project_digest() -> str:
    """What the deployed views were built from: the project's models, macros, tests and
    settings (not dbt's own artifacts, which a manual `dbt` run rewrites)."""
    digest = hashlib.sha256()
    paths = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "tests"):
        paths += sorted(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    for path in paths:
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def models_deployed(client: Client, database: str) -> bool:
    """Whether the warehouse's dbt views are those of the project in the repository."""
    deployed = client.command(
        f"SELECT argMax(manifest_sha256, deployed_at) FROM `{database}`.dbt_deployments"
    )
    return deployed == project_digest()


def deployed(client: Client, database: str, models: list[str]) -> set[str]:
    """Which of these dbt models exist in the warehouse yet (a fresh one has none until the
    first metering or billing run deploys them)."""
    rows = client.query(
        "SELECT name FROM system.tables "
        "WHERE database = {db:String} AND name IN {models:Array(String)}",
        parameters={"db": database, "models": models},
    ).result_rows
    return {name for (name,) in rows}


def record_deployment(client: Client, database: str, digest: str) -> None:
    client.insert(
        f"`{database}`.dbt_deployments",
        [[digest, datetime.now(UTC)]],
        column_names=["manifest_sha256", "deployed_at"],
    )
