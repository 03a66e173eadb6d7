"""The keys `billing serve` lets in, held in memory so a request costs no warehouse query:
read again every second (a revoked or expired key is refused within seconds), and a key
not seen yet is looked up at once (a new key works immediately). Rate limits are token
buckets per key: `rate_limit` requests per second, in bursts of as many."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from clickhouse_connect.driver.client import Client

from billing_dagster.api.keys import ApiKey, KeyRefused, find_key, list_keys


class KeyRing:
    def __init__(self, client: Callable[[], Client], database: str):
        self.client = client
        self.database = database
        self._keys: dict[str, ApiKey] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def refresh(self) -> None:
        self._keys = {key.key_id: key for key in list_keys(self.client(), self.database)}

    def held(self, key_id: str) -> ApiKey | None:
        """The key as last read, without asking the warehouse."""
        return self._keys.get(key_id)

    def find(self, key_id: str) -> ApiKey | None:
        key = self._keys.get(key_id)
        if key is None:
            key = find_key(self.client(), self.database, key_id)
            if key is not None:
                self._keys[key_id] = key
        return key

    def admit(self, key: ApiKey) -> None:
        """Take a token of the key's bucket, or refuse with 429 and when to retry."""
        if key.rate_limit is None:
            return
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key.key_id, (float(key.rate_limit), now))
            tokens = min(float(key.rate_limit), tokens + (now - at) * key.rate_limit)
            if tokens < 1:
                self._buckets[key.key_id] = (tokens, now)
                wait = math.ceil((1 - tokens) / key.rate_limit)
                raise KeyRefused(
                    429,
                    f"API key {key.key_id} is over its rate limit of {key.rate_limit} requests "
                    f"per second; retry in {wait} s",
                    retry_after=wait,
                )
            self._buckets[key.key_id] = (tokens - 1, now)
