"""Commands as users run them: separate `billing` processes on a billing home of their own,
with its own embedded warehouse (no shared test warehouse), several at once (issue 13).

Ten ingests of distinct files at once, then a bill, give the invoices of one ingest of all
files; two finalizes at once freeze one run; the home and everything in it is its owner's
alone; and a home whose path holds quotes, spaces and glob characters works like any other.
"""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import pytest

from tests.processes import billing, finish, run, stop_warehouse

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
  - {code: tokens, event_name: completion, aggregation: sum, property: tokens}
plans:
  - code: p
    name: P
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "5.00"}]
        charges:
          - {metric: calls, model: graduated, tiers: [{up_to: 100, unit_price: "0"}, {up_to: null, unit_price: "0.01"}]}
          - {metric: tokens, model: per_unit, unit_price: "0.0001"}
customers:
"""
CUSTOMERS = [f"c{n}" for n in range(6)]
FILES = 10


def event_files(directory: Path) -> list[Path]:
    """Ten files of distinct events, all named `events.jsonl`, each also resending some
    events of the file before it unchanged (duplicates whatever the order they load in)."""
    rng = random.Random(13)
    files, previous = [], []
    for number in range(FILES):
        events = [
            {
                "event_id": f"f{number}-{n}",
                "customer_id": rng.choice(CUSTOMERS),
                "event_name": rng.choice(["api_request", "completion"]),
                "timestamp": f"2026-10-{rng.randrange(1, 32):02d}T{rng.randrange(24):02d}:00:00Z",
                "properties": {"tokens": rng.randrange(1, 500)},
            }
            for n in range(400)
        ]
        lines = [json.dumps(e) for e in events + previous[:50]]
        previous = events
        # Every file has the same name: landing must not mix them up.
        path = directory / f"sender-{number}" / "events.jsonl"
        path.parent.mkdir()
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def catalog_file(directory: Path) -> Path:
    path = directory / "catalog.yaml"
    path.write_text(
        CATALOG
        + "".join(
            f"  - {{id: {c}, name: {c}, subscriptions: [{{plan: p, start: 2026-10-01}}]}}\n"
            for c in CUSTOMERS
        )
    )
    return path


def private(home: Path) -> list[str]:
    """Paths under `home` that its group or others may access (there must be none)."""
    found = []
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            found.append(f"{path.relative_to(home.parent)} {oct(path.stat().st_mode)}")
    return found


@pytest.fixture
def homes(tmp_path):
    """Two homes, one with quotes, spaces and glob characters in its path; their
    warehouses are stopped at the end."""
    made = [tmp_path / "one", tmp_path / "it's {a} [b]*" / "home"]
    yield made
    for home in made:
        stop_warehouse(home)


def test_ten_ingests_at_once_then_bill_equal_one_ingest_of_all(homes, tmp_path):
    concurrent, sequential = homes
    files = event_files(tmp_path)
    catalog = catalog_file(tmp_path)
    for home in homes:
        run(home, "catalog", "apply", str(catalog))

    processes = [billing(concurrent, "ingest", str(path)) for path in files]
    summaries = [json.loads(finish(process)) for process in processes]
    together = json.loads(run(sequential, "ingest", *map(str, files)))
    assert together == {"accepted": 4000, "duplicates": 450, "quarantined": 0}
    assert {key: sum(summary[key] for summary in summaries) for key in together} == together

    # Files loaded before, under any name, and a file given twice, land and load nothing.
    copy = tmp_path / "copy of sender-1.jsonl"
    copy.write_bytes(files[1].read_bytes())
    again = billing(sequential, "ingest", str(files[0]), str(copy), str(files[0]))
    out, err = again.communicate(timeout=1800)
    assert (again.returncode, json.loads(out)) == (
        0,
        {"accepted": 0, "duplicates": 0, "quarantined": 0},
    )
    assert [line for line in err.splitlines() if "nothing to load" in line] == [
        f"billing: {path}: already loaded, nothing to load" for path in (files[0], copy, files[0])
    ]

    for home in homes:
        run(home, "bill", "--period", "2026-10")
    invoices = [run(home, "invoices", "--period", "2026-10", "--format", "json") for home in homes]
    assert invoices[0] == invoices[1]
    assert len(json.loads(invoices[0])) == len(CUSTOMERS)

    # Two finalizes at once: one freezes the period, the other finds it finalized.
    finalizing = [billing(concurrent, "finalize", "--period", "2026-10") for _ in range(2)]
    results = [json.loads(finish(process)) for process in finalizing]
    assert [r["status"] for r in results] == ["finalized", "finalized"]
    assert run(concurrent, "invoices", "--period", "2026-10", "--format", "json") == (
        invoices[0].replace('"status": "draft"', '"status": "finalized"')
    )

    assert private(concurrent) == [] and private(sequential) == []
    credentials = json.loads(run(concurrent, "warehouse", "credentials"))
    assert (credentials["user"], len(credentials["password"])) == ("default", 43)
