"""Two months of finance through the CLI, for the report tests and the browser: October
2026 billed, finalized and one invoice voided; November billed as a draft with an
adjustment, a credit note and a usage spike."""

from __future__ import annotations

import json
from pathlib import Path

from tests.catalogs import FINANCE_CATALOG, finance_events
from tests.support import run


def finance_history(capsys, tmp_path: Path, monkeypatch) -> None:
    """October: acme calls once a day (31 calls), globex 3, initech 4, umbrella 1, and one
    line is not JSON. October is finalized and umbrella's invoice voided. November: acme
    calls once a day on the 1st to 4th and 1,200 times on the 5th (a spike), initech 5
    times, hooli twice; initech's late October call adds 1.00 to November, and a voided
    October call of globex is a 2.00 EUR credit note."""
    monkeypatch.setenv("BILLING_FINALIZE_GRACE_DAYS", "0")
    (tmp_path / "catalog.yaml").write_text(FINANCE_CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    october = "".join(finance_events("2026-10", {"acme": 1}, day) for day in range(1, 32))
    october += finance_events("2026-10", {"globex": 3, "initech": 4, "umbrella": 1}, 3)
    (tmp_path / "october.jsonl").write_text(october + "not json\n")
    run(capsys, "ingest", str(tmp_path / "october.jsonl"))
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    run(capsys, "void", "--invoice", "INV-2026-10-umbrella", "--reason", "sent twice")

    november = "".join(finance_events("2026-11", {"acme": 1}, day) for day in range(1, 5))
    november += finance_events("2026-11", {"acme": 1200}, 5)
    november += finance_events("2026-11", {"initech": 5, "hooli": 2}, 2)
    november += finance_events("2026-10", {"initech": 1}, 20, first=100)
    november += json.dumps(
        {"event_id": "void-1", "customer_id": "globex", "event_name": "api_request",
         "timestamp": "2026-10-03T09:00:00Z", "replaces": "globex-2026-10-3-0", "void": True}
    ) + "\n"  # fmt: skip
    (tmp_path / "november.jsonl").write_text(november)
    run(capsys, "ingest", str(tmp_path / "november.jsonl"))
    run(capsys, "bill", "--period", "2026-11")
