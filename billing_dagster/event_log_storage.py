"""The event log of a billing home's Dagster instance: Dagster's SQLite storage, with each
shard's connection kept open.

Dagster's `SqliteEventLogStorage` creates an engine and opens a connection for every event
it stores, and closing it checkpoints the shard's write-ahead log: 5 ms an event, several
seconds of a fresh home's first `billing ingest`, which stores some 500 events
(docs/benchmarks.md). This storage keeps one engine per shard, for the index and the most
recent runs, for the life of the process. A run's shard still reaches its database file
after each commit (a checkpoint, as the close did): the Dagster UI watches that file to show
a running command's events as they come.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._config import StringSource
from dagster._core.storage.event_log.sqlite import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool

#: Shards with an engine kept open: the index, and the runs written or read most recently.
#: A process that reads many runs, such as the UI, opens the others again when it needs them.
KEPT_SHARDS = 8


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """Configured in the home's dagster.yaml (cli/runs.py) with the instance's directory;
    the shards live where Dagster's own storage keeps them, `history/runs/` under it."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # least recent first
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(os.path.join(config_value["dagster_home"], "history", "runs"), inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as connection, connection.begin():
            yield connection

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=SingletonThreadPool,  # a connection per thread, kept
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if shard != INDEX_SHARD_NAME:
                event.listen(engine, "connect", _checkpoint_after_each_commit)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _dispose_engines(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        with self._db_lock:
            self._dispose_engines()  # before the shards' files are deleted
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._dispose_engines()
        super().dispose()


def _checkpoint_after_each_commit(connection, _record) -> None:
    connection.execute("PRAGMA wal_autocheckpoint = 1")
