"""A property-based fuzz run of `billing serve` from its own OpenAPI schema (schemathesis):
no request it can make gets a 5xx or an answer outside the schema. CI runs a few examples
per operation and skips the coverage phase (`FUZZ_EXAMPLES`, `FUZZ_PHASES`);
docs/benchmarks.md records a longer run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api_client import serving
from tests.catalogs import CONTRACT_EXAMPLE, contract_example_events
from tests.support import run

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "5")
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing")


def test_no_request_gets_a_server_error_or_breaks_the_schema(database, home, tmp_path, capsys):
    catalog, events = tmp_path / "catalog.yaml", tmp_path / "events.jsonl"
    catalog.write_text(CONTRACT_EXAMPLE)
    events.write_text(contract_example_events())
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(events))
    secret = json.loads(run(capsys, "keys", "create", "--scope", "admin"))["secret"]
    with serving(home) as (_, base):
        fuzz = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")), "run", f"{base}/openapi.json",
                "--header", f"Authorization: Bearer {secret}",
                "--checks", "not_a_server_error,response_schema_conformance",
                "--max-examples", EXAMPLES, "--seed", "16", "--generation-database", "none",
                "--phases", PHASES,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )  # fmt: skip
    assert fuzz.returncode == 0, fuzz.stdout[-4000:] + fuzz.stderr[-2000:]
