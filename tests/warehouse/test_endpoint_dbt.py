"""The embedded endpoint against the real dbt-clickhouse adapter: seeds, tables,
incremental models of three strategies and data tests, built twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.conftest import REPO

PROJECT = REPO / "tests" / "fixtures" / "dbt_endpoint"


def dbt_build(project: Path, rows: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--vars",
            f"{{rows: {rows}}}",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )


def test_dbt_build_twice_with_seeds_tables_incrementals_and_tests(tmp_path, client, database):
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    first = dbt_build(project, rows=3)
    assert first.returncode == 0, first.stdout[-3000:]
    assert "PASS=8 WARN=0 ERROR=0" in first.stdout  # 1 seed, 4 models, 3 tests
    second = dbt_build(project, rows=5)
    assert second.returncode == 0, second.stdout[-3000:]

    db = f"`{database}`"
    assert client.query(
        f"SELECT code, price, per_thousand FROM {db}.priced ORDER BY code"
    ).result_rows == [
        ("api", Decimal("0.001"), Decimal("1")),
        ("tokens", Decimal("0.000002"), Decimal("0.002")),
    ]
    assert client.command(f"SELECT count() FROM {db}.growing_default") == 5
    assert client.query(
        f"SELECT n, seen_with FROM {db}.growing_delete_insert ORDER BY n"
    ).result_rows == [(n, 5) for n in range(5)]
    assert client.command(f"SELECT count() FROM {db}.growing_append") == 5
