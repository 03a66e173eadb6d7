"""`billing finalize` and `billing backfill` through the CLI: the rules that refuse a
finalization, immutability once finalized, and backfills that can run any number of times."""

from __future__ import annotations

import json

from tests.catalogs import CONTRACT_EXAMPLE, contract_example_events
from tests.support import cli, run


def test_finalize_in_order_after_the_grace_period_then_never_again(
    database, home, tmp_path, capsys, monkeypatch
):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(contract_example_events())
    run(capsys, "ingest", str(events_file))

    assert cli(capsys, "finalize", "--period", "2026-10")[::2] == (
        2,
        "billing: period 2026-10 has not been billed; run `billing bill --period 2026-10`\n",
    )
    # No subscription yet in September: nothing to bill, and no empty period to finalize.
    assert cli(capsys, "bill", "--period", "2026-09")[::2] == (
        2,
        "billing: no subscription of the catalog is active in 2026-09: there is nothing to bill\n",
    )
    run(capsys, "bill", "--period", "2026-10")
    monkeypatch.setenv("BILLING_FINALIZE_GRACE_DAYS", "100000")
    code, _, err = cli(capsys, "finalize", "--period", "2026-10")
    assert (code, err.splitlines()) == (
        2,
        [
            "billing: period 2026-10 is in its grace period until 2300-08-17 (100000 days after "
            "its end, BILLING_FINALIZE_GRACE_DAYS): late events may still arrive",
        ],
    )
    monkeypatch.setenv("BILLING_FINALIZE_GRACE_DAYS", "3")
    summary = json.loads(run(capsys, "finalize", "--period", "2026-10"))
    assert summary == {
        "period": "2026-10",
        "invoices": 1,
        "credit_notes": 0,
        "status": "finalized",
        "totals": {"USD": "0.00"},
    }
    frozen = run(capsys, "invoices", "--period", "2026-10", "--format", "json")
    assert json.loads(frozen)[0]["status"] == "finalized"

    # Finalizing or billing again changes nothing.
    assert json.loads(run(capsys, "finalize", "--period", "2026-10")) == summary
    code, out, err = cli(capsys, "bill", "--period", "2026-10")
    assert (code, json.loads(out)["status"]) == (0, "finalized")
    assert "period 2026-10 is finalized; its invoices never change" in err
    assert run(capsys, "invoices", "--period", "2026-10", "--format", "json") == frozen

    # A backfill of October re-meters it and re-bills the open period after it, as often as
    # it is run, with the same result; the finalized period stays as it was.
    first = json.loads(run(capsys, "backfill", "--from", "2026-10-01", "--to", "2026-10-31"))
    assert first == {"metered": {"from": "2026-10-01", "to": "2026-10-31"}, "billed": ["2026-11"]}
    november = run(capsys, "invoices", "--period", "2026-11", "--format", "json")
    again = json.loads(run(capsys, "backfill", "--from", "2026-10-01", "--to", "2026-10-31"))
    assert again == first
    assert run(capsys, "invoices", "--period", "2026-11", "--format", "json") == november
    assert run(capsys, "invoices", "--period", "2026-10", "--format", "json") == frozen
    assert [line["kind"] for line in json.loads(november)[0]["lines"]] == [
        "fixed_fee",
        "usage",
        "usage",
        "minimum_commitment",
        "discount",
        "tax",
        "credit",
    ]


def test_backfill_refuses_bad_days(database, home, capsys):
    assert cli(capsys, "backfill", "--from", "2026-10-32", "--to", "2026-11-01")[::2] == (
        2,
        "billing: --from '2026-10-32': expected a day as YYYY-MM-DD, e.g. 2026-10-15\n",
    )
    assert cli(capsys, "backfill", "--from", "2026-11-02", "--to", "2026-11-01")[::2] == (
        2,
        "billing: --from 2026-11-02 is after --to 2026-11-01\n",
    )
