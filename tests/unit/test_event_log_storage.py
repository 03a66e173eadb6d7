"""A billing home's Dagster event log (billing_dagster/event_log_storage.py): its connections
kept open, and still what Dagster's own storage and the UI read."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from billing_dagster.cli import runs
from billing_dagster.cli.runs import dagster_home
from billing_dagster.event_log_storage import KEPT_SHARDS, KeptOpenSqliteEventLogStorage


@dg.asset
def upstream() -> int:
    return 1


@dg.asset
def downstream(upstream: int) -> int:
    return upstream + 1


JOB = dg.Definitions(
    assets=[upstream, downstream], jobs=[dg.define_asset_job("two_assets")]
).resolve_job_def("two_assets")


@pytest.fixture
def instance(tmp_path: Path, monkeypatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        yield instance


def _event_types(events) -> Counter:
    return Counter(event.dagster_event_type.value for event in events if event.is_dagster_event)


_READ_WITH_DAGSTERS_OWN_STORAGE = """
import sys
from collections import Counter
from dagster._core.storage.event_log.sqlite import SqliteEventLogStorage
storage = SqliteEventLogStorage(sys.argv[1])
records = storage.get_records_for_run(sys.argv[2]).records
entries = [record.event_log_entry for record in records if record.event_log_entry.is_dagster_event]
print(sorted(Counter(entry.dagster_event_type.value for entry in entries).items()))
"""


def _read_with_dagsters_own_storage(run_id: str) -> str:
    """The run's events by type, as another process with Dagster's own storage reads them."""
    read = subprocess.run(
        [sys.executable, "-c", _READ_WITH_DAGSTERS_OWN_STORAGE, str(_shards()), run_id],
        check=True,
        capture_output=True,
        text=True,
    )
    return read.stdout.strip()


def test_a_home_stores_a_runs_events_where_dagsters_own_storage_reads_them(instance):
    result = JOB.execute_in_process(instance=instance)

    assert isinstance(instance.event_log_storage, KeptOpenSqliteEventLogStorage)
    stored = _event_types(instance.all_logs(result.run_id))
    assert stored["ASSET_MATERIALIZATION"] == 2 and stored["STEP_SUCCESS"] == 2
    assert stored["PIPELINE_SUCCESS"] == 1
    # Every event committed, in the files and layout of Dagster's own storage.
    assert _read_with_dagsters_own_storage(result.run_id) == str(sorted(stored.items()))
    assert len(instance.fetch_materializations(downstream.key, limit=10).records) == 1


def test_the_ui_watching_a_run_sees_its_events_while_the_process_keeps_its_connection(
    instance,
):
    """The UI follows a running command's run by watching `<run>.db`: each commit reaches
    that file, not only the write-ahead log that a kept connection writes to."""
    run_id = str(uuid.uuid4())
    seen: list[str] = []
    finished = threading.Event()

    def follow(entry, _cursor) -> None:
        if entry.is_dagster_event:
            seen.append(entry.dagster_event_type.value)
            if entry.dagster_event.is_job_success:
                finished.set()

    instance.watch_event_logs(run_id, None, follow)
    try:
        JOB.execute_in_process(instance=instance, run_id=run_id)
        assert finished.wait(timeout=60), f"the watcher saw only {seen}"
        assert Counter(seen)["ASSET_MATERIALIZATION"] == 2
    finally:
        instance.end_watch_event_logs(run_id, follow)


def _shards() -> Path:
    """Where Dagster's SQLite event log keeps a run's events: `<run id>.db`."""
    return Path(os.environ["DAGSTER_HOME"]) / "history" / "runs"


def _open_shards(shards: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    targets = (os.readlink(fd) for fd in fds.iterdir() if fd.exists())
    return [name for name in targets if name.startswith(str(shards)) and name.endswith(".db")]


def test_a_process_keeps_only_the_most_recent_shards_open(instance):
    run_ids = [JOB.execute_in_process(instance=instance).run_id for _ in range(KEPT_SHARDS + 4)]

    open_now = {Path(name).stem for name in _open_shards(_shards())}
    assert open_now == {"index", *run_ids[-(KEPT_SHARDS - 1) :]}
    # A run whose shard was closed is read again in full.
    assert _event_types(instance.all_logs(run_ids[0]))["ASSET_MATERIALIZATION"] == 2


def test_after_a_wipe_a_runs_next_events_reach_its_new_file(instance):
    """A wipe deletes the runs' files: the connections kept to them must not outlive it."""
    result = JOB.execute_in_process(instance=instance)
    instance.wipe()
    instance.report_engine_event("after the wipe", result.dagster_run)

    assert _read_with_dagsters_own_storage(result.run_id) == "[('ENGINE_EVENT', 1)]"


def test_a_homes_earlier_instance_config_is_replaced_and_an_edited_one_kept(tmp_path):
    earlier, edited = tmp_path / "earlier", tmp_path / "edited"
    for home, text in [(earlier, runs._EARLIER_INSTANCE_CONFIG), (edited, "telemetry: {}\n")]:
        (home / "dagster").mkdir(parents=True)
        (home / "dagster" / "dagster.yaml").write_text(text)

    assert (dagster_home(earlier) / "dagster.yaml").read_text() == runs._INSTANCE_CONFIG
    assert (dagster_home(edited) / "dagster.yaml").read_text() == "telemetry: {}\n"
    assert sorted(p.name for p in (earlier / "dagster").iterdir()) == ["dagster.yaml"]
