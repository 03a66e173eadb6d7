"""One `dbt build` of the assets being materialized, in the billing home's dbt workspace.

Each billing home keeps its dbt artifacts under `<home>/dbt/` (not in the repository's
`dbt_project/target/`), one directory per invocation, and carries the parse state of its
last run to the next: dbt reuses a parse only when the connection settings it was made
with are the same (`profile_hash`), and they differ from home to home (the port), so the
state shipped by `make install` never fits. With the window passed as environment
variables (window.py) a run then skips the full parse.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from billing_dagster.defs.metering.window import window_env
from billing_dagster.defs.resources import ClickHouseResource

PARTIAL_PARSE = "partial_parse.msgpack"
#: Invocation directories kept per home (manifest, run results and dbt.log of each run).
KEPT_INVOCATIONS = 20


def dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    clickhouse: ClickHouseResource,
    home: Path,
    window: dict[str, str] | None = None,
) -> Iterator:
    workspace = home / "dbt"
    workspace.mkdir(parents=True, exist_ok=True)
    env = {
        **clickhouse.settings().dbt_env(),
        **(window_env(window) if window else {}),
        # dagster-dbt puts each invocation under this directory and seeds it with the
        # partial parse found here.
        "DBT_TARGET_PATH": str(workspace),
    }
    with _environment(env):
        invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()
    _keep_parse_state(Path(invocation.target_path), workspace)


def _keep_parse_state(run_target: Path, workspace: Path) -> None:
    state = run_target / PARTIAL_PARSE
    if state.exists():
        shutil.copyfile(state, workspace / f".{PARTIAL_PARSE}.tmp")
        os.replace(workspace / f".{PARTIAL_PARSE}.tmp", workspace / PARTIAL_PARSE)
    runs = sorted((p for p in workspace.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEPT_INVOCATIONS]:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """Set variables for dbt (its profile and models read them) while it runs."""
    previous = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(previous)
