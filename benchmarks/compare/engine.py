"""One engine's job in a process of its own:
`python -m benchmarks.compare.engine NAME EVENTS CATALOG WORK RESULT [--profile]`.

Writes RESULT as JSON: each customer's total (decimal text) and the time of each step.
SIGTERM ends it through its `finally` blocks, so a timed-out PostgreSQL or warehouse is
still stopped.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import sys
import time
from pathlib import Path

ENGINES = {
    "ours": "benchmarks.compare.ours",
    "postgres": "benchmarks.compare.postgres_engine",
    "pandas": "benchmarks.compare.pandas_engine",
    "duckdb": "benchmarks.compare.duckdb_engine",
}


def main(argv: list[str]) -> int:
    name, events, catalog, work, result = argv[:5]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    steps: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def timed(step: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            steps.append((step, round(time.perf_counter() - started, 3)))
            print(f"    {name}: {step} {steps[-1][1]:.1f} s", file=sys.stderr, flush=True)

    module = importlib.import_module(ENGINES[name])
    options = {"profile": True} if "--profile" in argv else {}
    totals = module.run(Path(events), Path(catalog), Path(work), timed, **options)
    Path(result).write_text(
        json.dumps({"totals": {c: str(t) for c, t in totals.items()}, "steps": steps})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
