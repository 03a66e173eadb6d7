"""Answers computed from what the pipeline wrote, kept until it writes again.

Reports and portal figures read views over the billing tables: a few hundred milliseconds
each at 10,000 customers. They change only when the pipeline writes (a catalog applied, a
load, a metering run, a billing run, a finalization, a void, a gateway sync or payment
status or dispute, a dbt deployment) or the day turns, so an answer is kept with the version
of the data it was computed from and served again while that version holds. The version is one
query of counts and maxima that ClickHouse answers from table metadata in milliseconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from clickhouse_connect.driver.client import Client

#: What the pipeline appends to whenever it changes anything a report or portal reads.
_WRITES = {
    "catalog_versions": "max(catalog_version)",
    "event_loads": "max(load_seq)",
    "quarantined_events": "count()",
    "metering_runs": "max(metered_at)",
    "billing_runs": "max(created_at)",
    "invoice_finalizations": "count()",
    "invoice_voids": "count()",
    "gateway_sync_documents": "count()",
    "invoice_statuses": "count()",
    "disputes": "count()",
    "dbt_deployments": "max(deployed_at)",
}


def data_version(client: Client, database: str) -> tuple:
    """Changes whenever the pipeline writes, and each day (reports depend on today)."""
    parts = ", ".join(
        f"(SELECT tuple(count(), {figure}) FROM `{database}`.{table})"
        for table, figure in _WRITES.items()
    )
    return tuple(client.query(f"SELECT today(), {parts}").result_rows[0])


class AnswerCache:
    """Up to `size` answers, each valid for the data version it was computed from. Safe
    for the server's worker threads; two threads missing at once both compute."""

    def __init__(self, version: Callable[[], tuple], size: int = 2048):
        self._version = version
        self._size = size
        self._answers: OrderedDict[Hashable, tuple[tuple, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        version = self._version()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and kept[0] == version:
                self._answers.move_to_end(key)
                return kept[1]
        answer = compute()
        with self._lock:
            self._answers[key] = (version, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer
