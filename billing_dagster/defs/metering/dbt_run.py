"""One `dbt build` of the assets being materialized, run inside this process.

dagster-dbt runs dbt as a subprocess: 4-5 s of start-up and project parsing for every
metering run, more than the metering SQL of a day takes. Here dbt runs in-process through
`dbtRunner` with the project parsed once per process and warehouse (`_parsed`), and its
events become Dagster events through dagster-dbt's own translation, so the assets, checks and
metadata are the same as with the subprocess. A warm run costs well under a second.

Each billing home keeps what dbt writes under `<home>/dbt/` (not in the repository's
`dbt_project/target/`): one directory per invocation, with its compiled SQL and `dbt.log`,
and the parse state of its last parse, carried to the next process. The metering window
reaches the models as environment variables (window.py), read when a model is compiled, so
one parse serves every window.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest
from dbt_common.events.base_types import EventMsg
from dbt_common.events.functions import msg_to_dict

from billing_dagster.defs.metering.project import metering_project
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.metering.dbt_project import project_digest
from billing_dagster.metering.window import window_env

PARTIAL_PARSE = "partial_parse.msgpack"
#: Invocation directories kept per home (run results and dbt.log of each run).
KEPT_INVOCATIONS = 20

#: Parsed projects of this process, by what a parse depends on (project, warehouse).
_PARSED: dict[tuple, Manifest] = {}


def dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    clickhouse: ClickHouseResource,
    home: Path,
    window: dict[str, str] | None = None,
) -> Iterator:
    workspace = home / "dbt"
    workspace.mkdir(parents=True, exist_ok=True)
    target = workspace / f"{context.op_def.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=None
    )
    env = {**clickhouse.settings().dbt_env(), **(window_env(window) if window else {})}
    if params.indirect_selection:
        env["DBT_INDIRECT_SELECTION"] = params.indirect_selection
    project = ["--project-dir", dbt.project_dir, "--profiles-dir", dbt.profiles_dir or ""]
    with _environment(env):
        manifest = _parsed(project, workspace, target)
        events: list[EventMsg] = []
        runner = dbtRunner(manifest=manifest, callbacks=[events.append])
        outcome = _invoke(runner, "build", project, target, *params.selection_args)
    for event in events:
        message = DbtCoreCliEventMessage(raw_event=msg_to_dict(event), event_history_metadata={})
        yield from message.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=target,
            project=params.dbt_project,
        )
    _keep_invocations(workspace)
    if not outcome.success:
        raise dg.Failure(f"dbt build failed: {_failure(outcome, events)} (log: {target}/dbt.log)")


def create_empty(
    dbt: DbtCliResource, clickhouse: ClickHouseResource, home: Path, model: str
) -> None:
    """Create the incremental `model`'s table with no rows when it does not exist yet, so views
    over it can be deployed before the first metering run (an empty window); give an older
    table the columns its contract added since, with their defaults (docs/invoicing.md)."""
    client = clickhouse.get_client()
    table = f"`{clickhouse.database}`.`{model}`"
    if client.command(f"EXISTS TABLE {table}"):
        present = client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            parameters={"db": clickhouse.database, "t": model},
        ).result_columns[0]
        for name, data_type in _declared_columns(model).items():
            if name not in present:
                client.command(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS `{name}` {data_type}")
        return
    workspace = home / "dbt"
    workspace.mkdir(parents=True, exist_ok=True)
    target = workspace / f"create-{model}-{uuid.uuid4().hex[:7]}"
    project = ["--project-dir", dbt.project_dir, "--profiles-dir", dbt.profiles_dir or ""]
    nothing = {"min_date": "2000-01-02", "max_date": "2000-01-01"}
    with _environment({**clickhouse.settings().dbt_env(), **window_env(nothing)}):
        manifest = _parsed(project, workspace, target)
        outcome = _invoke(dbtRunner(manifest=manifest), "run", project, target, "-s", model)
    if not outcome.success:
        raise dg.Failure(f"dbt could not create {model}: {_failure(outcome, [])}")


def _declared_columns(model: str) -> dict[str, str]:
    """Name -> type of the columns the project's contract gives `model`, in order (from the
    manifest `make install` built)."""
    nodes = json.loads(Path(metering_project.manifest_path).read_text())["nodes"]
    columns = nodes[f"model.billing.{model}"]["columns"]
    return {name: column["data_type"] for name, column in columns.items()}


def parse_ahead(dbt: DbtCliResource, clickhouse: ClickHouseResource, home: Path) -> None:
    """Parse the project for the home's database now, in a worker that forks the commands
    that will run it (cli/worker.py)."""
    workspace = home / "dbt"
    target = workspace / f"parse-{uuid.uuid4().hex[:7]}"
    project = ["--project-dir", dbt.project_dir, "--profiles-dir", dbt.profiles_dir or ""]
    with _environment({"CLICKHOUSE_DATABASE": clickhouse.database}):
        _parsed(project, workspace, target)


def _parsed(project: list[str], workspace: Path, target: Path) -> Manifest:
    """The project parsed for the database in the environment: once per process, starting
    from the home's last parse state (dbt re-parses only what changed since). The address
    and credentials of the warehouse are not part of a parse: dbt reads them per run."""
    key = (*project, os.environ.get("CLICKHOUSE_DATABASE", ""), project_digest())
    if key not in _PARSED:
        target.mkdir(parents=True, exist_ok=True)
        if (workspace / PARTIAL_PARSE).exists():
            shutil.copyfile(workspace / PARTIAL_PARSE, target / PARTIAL_PARSE)
        outcome = _invoke(dbtRunner(), "parse", project, target)
        if not outcome.success:
            raise dg.Failure(f"dbt could not parse the project: {outcome.exception}")
        _keep_parse_state(target, workspace)
        _PARSED[key] = outcome.result
    return _PARSED[key]


def _invoke(runner: dbtRunner, command: str, project: list[str], target: Path, *selection: str):
    """dbt `command`, its compiled SQL and log in `target`, nothing printed but errors.
    Without the JSON artifacts (`manifest.json`, `run_results.json` after every node, the
    graph), which nothing here reads: writing them took 0.6 s of each metering run."""
    paths = ["--target-path", str(target), "--log-path", str(target)]
    quiet = ["--quiet", "--no-send-anonymous-usage-stats", "--no-write-json"]
    return runner.invoke([command, *project, *selection, *paths, *quiet])


def _failure(outcome, events: list[EventMsg]) -> str:
    """The first error dbt reported, in its words."""
    if outcome.exception is not None:
        return str(outcome.exception).strip().splitlines()[0]
    for event in events:
        if event.info.level == "error" and event.info.msg.strip():
            return event.info.msg.strip().splitlines()[0]
    return "see the log"


def _keep_parse_state(run_target: Path, workspace: Path) -> None:
    state = run_target / PARTIAL_PARSE
    if state.exists():
        shutil.copyfile(state, workspace / f".{PARTIAL_PARSE}.tmp")
        os.replace(workspace / f".{PARTIAL_PARSE}.tmp", workspace / PARTIAL_PARSE)


def _keep_invocations(workspace: Path) -> None:
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
