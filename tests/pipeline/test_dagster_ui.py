"""The Dagster UI out of the box (issue 14): the real webserver loads the code location of
`workspace.yaml` with nothing activated (no `.venv/bin` on PATH), with every asset, job,
schedule, sensor and asset check, and a run started by `billing bill` is listed under its
job, as the UI's own GraphQL answers."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from billing_dagster.cli.main import main as billing
from tests.conftest import REPO

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: p
    name: P
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD, charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]}
customers:
  - {id: a, name: A, subscriptions: [{plan: p, start: 2026-10-01}]}
"""

WORKSPACE = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              name
              jobs { name }
              schedules { name }
              sensors { name }
              assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

JOB_RUNS = """
{
  pipelineOrError(params: {pipelineName: "billing_job", repositoryName: "__repository__",
                           repositoryLocationName: "billing"}) {
    ... on Pipeline { runs { status tags { key value } } }
  }
}
"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def webserver(home, database, tmp_path):
    """`dagster-webserver` on the workspace, as `make dev` runs it, but with a PATH that does
    not hold the virtualenv's bin/ (nothing activated)."""
    port = free_port()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent
    )
    env |= {"DAGSTER_HOME": str(home / "dagster"), "BILLING_HOME": str(home)}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml"]
    process = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "webserver.log").open("w"),
    )
    try:
        while True:  # until it answers, or dies
            if process.poll() is not None:
                log = (tmp_path / "webserver.log").read_text()[-3000:]
                raise RuntimeError(f"the webserver exited: {log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.2)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def test_the_ui_loads_everything_and_lists_cli_runs_under_their_job(
    home, database, tmp_path, capsys, webserver
):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    assert billing(["catalog", "apply", str(tmp_path / "catalog.yaml")]) == 0
    assert billing(["bill", "--period", "2026-10"]) == 0
    capsys.readouterr()

    [location] = graphql(webserver, WORKSPACE)["workspaceOrError"]["locationEntries"]
    loaded = location["locationOrLoadError"]
    assert (location["name"], loaded["__typename"]) == ("billing", "RepositoryLocation"), loaded
    [repository] = loaded["repositories"]
    assert {job["name"] for job in repository["jobs"]} >= {
        "ingest_job",
        "metering_job",
        "models_job",
        "billing_job",
        "finalize_job",
        "sync_job",
        "payment_status_job",
        "webhook_delivery_job",
    }
    assert {s["name"] for s in repository["schedules"]} == {
        "landing_ingest_schedule",
        "monthly_billing_schedule",
        "finalization_schedule",
        "payment_status_schedule",
    }
    assert {s["name"] for s in repository["sensors"]} == {
        "models_deployment",
        "landed_events",
        "late_data_backfill",
        "webhook_deliveries",
        "data_quality_webhooks",
    }
    assets = {"/".join(node["assetKey"]["path"]): node for node in repository["assetNodes"]}
    assert {
        "raw_events",
        "catalog_versions",
        "fct_metric_usage_daily",
        "fct_rated_usage",
        "invoices",
        "finalized_documents",
        "gateway_invoices",
        "usage_alerts",
    } <= set(assets)
    checks = {
        check["name"]
        for node in assets.values()
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    assert {"totals_match_gateway", "alerts_once"} <= checks and len(checks) >= 12

    runs = graphql(webserver, JOB_RUNS)["pipelineOrError"]["runs"]
    assert [run["status"] for run in runs] == ["SUCCESS"]
