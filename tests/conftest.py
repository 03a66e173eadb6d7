"""Shared fixtures: one real embedded warehouse for the whole session, a fresh database and
billing home per test, so tests never see each other's data."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> embedded.Endpoint:
    """The embedded warehouse endpoint, started once and stopped at the end. Its `file()`
    reads the session's temporary directory, where every test's billing home lies."""
    home = tmp_path_factory.mktemp("warehouse-home")
    files_root = tmp_path_factory.getbasetemp()
    endpoint = embedded.ensure_running(home, idle_timeout_s=0, files_root=files_root)
    yield endpoint
    embedded.stop(home)


@pytest.fixture
def database(warehouse, monkeypatch) -> str:
    """A database of this test's own; CLI, Dagster and dbt all reach it through the env."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CLICKHOUSE_HOST", warehouse.host)
    monkeypatch.setenv("CLICKHOUSE_PORT", str(warehouse.port))
    monkeypatch.setenv("CLICKHOUSE_DATABASE", name)
    monkeypatch.setenv("CLICKHOUSE_USER", warehouse.user)
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", warehouse.password)
    monkeypatch.setenv("CLICKHOUSE_USER_FILES_PATH", str(warehouse.files_root))
    yield name
    ClickHouseSettings.embedded(warehouse).client().command(
        f"DROP DATABASE IF EXISTS `{name}` SYNC"
    )


@pytest.fixture
def settings(warehouse, database) -> ClickHouseSettings:
    return ClickHouseSettings.embedded(warehouse, database)


@pytest.fixture
def client(settings):
    client = settings.client()
    ensure_schema(client, settings.database)
    return client


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("BILLING_HOME", str(path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return path


@pytest.fixture(autouse=True)
def _restore_environment():
    """The CLI sets DAGSTER_HOME and BILLING_HOME for its runs; undo that after each test."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)
