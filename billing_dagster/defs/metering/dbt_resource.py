"""The dbt resource, without a `dbt --version` subprocess on every run.

dagster-dbt 0.29 asks the dbt executable for its version before each command; here that
costs about 4 s, as much as a day's metering itself. dbt-core is a pinned dependency of
this package (pyproject.toml), so its version is read from the installed distribution.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from packaging.version import Version


class PinnedDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))
