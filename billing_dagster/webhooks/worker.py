"""`billing serve`'s webhook deliverer: a thread that runs a delivery round when the
outbox, the endpoints or the replay requests changed, or when a retry falls due, and
otherwise only asks the warehouse three counts a second."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.webhooks.delivery import deliver_due

logger = logging.getLogger("billing.webhooks")


class DeliveryWorker(threading.Thread):
    def __init__(
        self, client: Callable[[], Client], database: str, home: Path, every_s: float = 1.0
    ):
        super().__init__(name="webhooks", daemon=True)
        self.client = client
        self.database = database
        self.home = home
        self.every_s = every_s
        self._stopped = threading.Event()
        self._seen: tuple | None = None
        self._next_due: datetime | None = None

    def run(self) -> None:
        while not self._stopped.wait(self.every_s):
            try:
                self.deliver_if_due()
            except Exception as error:  # the next round retries; the server keeps serving
                logger.warning("webhook delivery: %s", error)

    def deliver_if_due(self) -> None:
        db = f"`{self.database}`"
        counts = tuple(
            self.client()
            .query(
                f"SELECT (SELECT count() FROM {db}.webhook_events), "
                f"(SELECT count() FROM {db}.webhook_endpoints), "
                f"(SELECT count() FROM {db}.webhook_replays)"
            )
            .result_rows[0]
        )
        now = datetime.now(UTC)
        if counts == self._seen and (self._next_due is None or now < self._next_due):
            return
        done = deliver_due(self.client(), self.database, self.home)
        if done.skipped:  # another deliverer is at it: look again in a while
            self._next_due = now + timedelta(seconds=30)
            return
        self._seen = counts
        self._next_due = done.next_due(datetime.now(UTC))

    def stop(self) -> None:
        self._stopped.set()
        self.join()
