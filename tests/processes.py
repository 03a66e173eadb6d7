"""`billing` as users run it: a process of its own on a billing home of its own, with that
home's embedded warehouse (nothing of the tests' shared warehouse)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings
from tests.conftest import REPO


def billing(home: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    env |= {"BILLING_HOME": str(home), "BILLING_FINALIZE_GRACE_DAYS": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "billing_dagster.cli.main", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> str:
    """Its stdout, once it exited 0."""
    out, err = process.communicate(timeout=1800)
    assert process.returncode == 0, err[-3000:]
    return out


def run(home: Path, *args: str) -> str:
    return finish(billing(home, *args))


def run_json(home: Path, *args: str):
    return json.loads(run(home, *args))


def warehouse_client(home: Path):
    """A client of the home's running embedded warehouse."""
    endpoint = embedded.running_endpoint(home)
    assert endpoint is not None, f"no warehouse runs for {home}"
    return ClickHouseSettings.embedded(endpoint).client()


def stop_warehouse(home: Path) -> None:
    embedded.stop(home)
