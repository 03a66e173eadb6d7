"""Bounded exponential backoff with jitter for transient gateway errors.

Only `TransientGatewayError` is retried (429, 5xx, network); any other error is a problem
with the request and is raised at once. The jitter comes from a seeded generator so a test
run is reproducible.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from billing_dagster.gateways.base import TransientGatewayError

T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.2
    max_seconds: float = 10.0
    seed: int = 0
    sleep: Callable[[float], None] = time.sleep
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return self._random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))

    def call(
        self,
        action: Callable[[], T],
        what: str,
        on_retry: Callable[[TransientGatewayError], None] | None = None,
    ) -> T:
        """Run `action`; on a transient error wait and run it again, at most `attempts` times.
        `on_retry` runs before each new attempt (the sync uses it to look up again)."""
        for attempt in range(self.attempts):
            try:
                return action()
            except TransientGatewayError as error:
                if attempt == self.attempts - 1:
                    raise TransientGatewayError(
                        f"{what}: still failing after {self.attempts} attempts: {error}"
                    ) from error
                self.sleep(self.delay(attempt))
                if on_retry is not None:
                    on_retry(error)
        raise AssertionError("unreachable")
