"""`billing bill`, `invoices` and `credits` end to end, against hand-computed amounts.

The scenario is the contract's example invoice (CONTRACT.md §4), built from a YAML catalog
applied through the CLI, so every layer runs: validation, catalog store, ingest, metering,
rating in dbt, invoice assembly in Dagster.
"""

from __future__ import annotations

import json

from tests.catalogs import CONTRACT_EXAMPLE, contract_example_events
from tests.support import cli, run

#: The same catalog with a price change, as the contract wants it: a new plan version.
NEW_VERSION = CONTRACT_EXAMPLE.replace(
    "customers:",
    """      - version: 2
        effective_from: 2026-10-01
        currency: USD
        fixed_fees: [{code: platform, amount: "99.00"}]
customers:""",
)

EXPECTED_LINES = [
    # 49.00, a whole month
    ("fixed_fee", "platform", None, "1", "49.00"),
    # 12 calls: 10 free, 2 × 0.5 + the tier's flat fee 1.00 = 2.00
    ("usage", "api_calls", None, "12", "2.00"),
    # 120000 × 0.00003 = 3.60 (the group price, not 0.000002)
    ("usage", "tokens", "gpt-large", "120000", "3.60"),
    # 100.00 − (49.00 + 2.00 + 3.60) = 45.40
    ("minimum_commitment", None, None, None, "45.40"),
    ("discount", None, None, None, "-10.00"),
    # (100.00 − 10.00) × 0.20 = 18.00
    ("tax", None, None, None, "18.00"),
    # 90.00 + 18.00 paid from the 500.00 grant
    ("credit", "g1", None, None, "-108.00"),
]


def test_the_contract_example_invoice_through_the_cli(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(contract_example_events())
    run(capsys, "ingest", str(events_file))

    summary = json.loads(run(capsys, "bill", "--period", "2026-10"))
    assert summary == {
        "period": "2026-10",
        "invoices": 1,
        "credit_notes": 0,
        "status": "draft",
        "totals": {"USD": "0.00"},
    }
    first = run(capsys, "invoices", "--period", "2026-10", "--format", "json")
    [invoice] = json.loads(first)
    lines = [
        (line["kind"], line["code"], line.get("group"), line.get("quantity"), line["amount"])
        for line in invoice["lines"]
    ]
    assert lines == EXPECTED_LINES
    assert {k: v for k, v in invoice.items() if k != "lines"} == {
        "invoice_id": "INV-2026-10-acme",
        "customer_id": "acme",
        "period": "2026-10",
        "currency": "USD",
        "status": "draft",
        "charges": "54.60",
        "subtotal": "100.00",
        "discount": "10.00",
        "tax": "18.00",
        "credits_applied": "108.00",
        "adjustments": "0.00",
        "total": "0.00",
        "plan_versions": ["pro:1"],
    }
    tiers = invoice["lines"][1]["tiers"]
    assert [(t["tier"], t["units"], t["amount"]) for t in tiers] == [(1, "10", "0"), (2, "2", "2")]

    # Billing again gives the same invoice, to the byte.
    run(capsys, "bill", "--period", "2026-10")
    assert run(capsys, "invoices", "--period", "2026-10", "--format", "json") == first

    # A new plan version does not change a period billed with the pinned version 1.
    catalog.write_text(NEW_VERSION)
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "bill", "--period", "2026-10")
    assert run(capsys, "invoices", "--period", "2026-10", "--format", "json") == first

    credits = json.loads(run(capsys, "credits", "--customer", "acme", "--format", "json"))
    assert [(c["grant"], c["used"], c["balance"]) for c in credits] == [("g1", "108.00", "392.00")]


def test_bad_input_is_refused_with_one_line_and_nothing_written(
    database, client, home, tmp_path, capsys
):
    assert cli(capsys, "bill", "--period", "2026-10") == (
        2,
        "",
        "billing: no catalog has been applied yet; run `billing catalog apply FILE` first\n",
    )
    assert cli(capsys, "bill", "--period", "2026-13") == (
        2,
        "",
        "billing: --period '2026-13': expected a month as YYYY-MM, e.g. 2026-10\n",
    )
    assert cli(capsys, "invoices", "--period", "2026-10") == (
        2,
        "",
        "billing: period 2026-10 has not been billed; run `billing bill --period 2026-10`\n",
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONTRACT_EXAMPLE.replace("{plan: pro,", "{plan: gold,"))
    code, out, err = cli(capsys, "catalog", "apply", str(broken))
    assert (code, out) == (2, "")
    assert err == (
        f'billing: {broken}:29: customers[0].subscriptions[0].plan: unknown plan "gold"; '
        "define it under plans\n"
    )
    assert client.command(f"SELECT count() FROM `{database}`.billing_runs") == 0
    assert client.command(f"SELECT count() FROM `{database}`.catalog_versions") == 0
