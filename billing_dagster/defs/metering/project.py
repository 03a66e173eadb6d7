"""The dbt project that meters usage, as dagster-dbt sees it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"

metering_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` re-parses models as they are edited; elsewhere the manifest is built by
# `make install` (dbt parse) and must exist before definitions load.
metering_project.prepare_if_dev()


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
