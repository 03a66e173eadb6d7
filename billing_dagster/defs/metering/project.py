"""The dbt project that meters usage, as dagster-dbt sees it."""

from __future__ import annotations

from dagster_dbt import DbtProject

from billing_dagster.metering.dbt_project import DBT_PROJECT_DIR

metering_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` re-parses models as they are edited; elsewhere the manifest is built by
# `make install` (dbt parse) and must exist before definitions load.
metering_project.prepare_if_dev()
