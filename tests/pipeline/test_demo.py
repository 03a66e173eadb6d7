"""`make demo` tells a short story on stdout and keeps the logs in a file it names."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO
from tests.processes import stop_warehouse


def test_the_demo_reads_as_a_short_story(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    env["BILLING_HOME"] = str(home)
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "billing_dagster.demo"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        stop_warehouse(home)
    assert demo.returncode == 0, demo.stderr[-3000:]
    lines = demo.stdout.splitlines()
    assert len(lines) < 80 and demo.stderr == ""
    assert lines[1] == f"Dagster's and dbt's logs go to {home / 'demo' / 'demo.log'}"
    assert [line.split(" ... ")[0] for line in lines if line.startswith("[")][:2] == [
        "[1/5] Applying the sample catalog",
        "[2/5] Loading 28,211 sample events and metering them",
    ]
    assert "DEBUG" not in demo.stdout and "Next, try:" in demo.stdout
    assert "$ billing bill --period" in (home / "demo" / "demo.log").read_text()
