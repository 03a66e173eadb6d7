"""`billing bill`, `invoices` and `credits` end to end, against hand-computed amounts.

The scenario is the contract's example invoice (CONTRACT.md §4), built from a YAML catalog
applied through the CLI, so every layer runs: validation, catalog store, ingest, metering,
rating in dbt, invoice assembly in Dagster.
"""

from __future__ import annotations

import json

from billing_dagster.cli.main import main as billing

CATALOG = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
  - {code: tokens, event_name: completion, aggregation: sum, property: tokens, group_by: model}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "49.00"}]
        minimum_amount: "100.00"
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 10, unit_price: "0"}
              - {up_to: null, unit_price: "0.5", flat_fee: "1.00"}
          - metric: tokens
            model: per_unit
            unit_price: "0.000002"
            group_prices:
              gpt-large: {model: per_unit, unit_price: "0.00003"}
customers:
  - id: acme
    name: Acme Corp
    tax_rate: "0.20"
    subscriptions:
      - {plan: pro, version: 1, start: 2026-10-01, discounts: [{type: fixed, amount: "10.00"}]}
credit_grants:
  - {id: g1, customer: acme, amount: "500.00", effective: 2026-10-01, expires: null}
"""

#: The same catalog with a price change, as the contract wants it: a new plan version.
NEW_VERSION = CATALOG.replace(
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


def events() -> str:
    calls = [
        {"event_id": f"a{i}", "customer_id": "acme", "event_name": "api_request",
         "timestamp": f"2026-10-{i + 1:02d}T12:00:00Z"}
        for i in range(12)
    ]  # fmt: skip
    tokens = [
        {"event_id": f"t{i}", "customer_id": "acme", "event_name": "completion",
         "timestamp": "2026-10-20T00:00:00Z", "properties": {"model": "gpt-large", "tokens": 40000}}
        for i in range(3)
    ]  # fmt: skip
    return "\n".join(json.dumps(e) for e in calls + tokens) + "\n"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = billing(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0, err[-2000:]
    return out


def test_the_contract_example_invoice_through_the_cli(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    ok(capsys, "catalog", "apply", str(catalog))
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(events())
    ok(capsys, "ingest", str(events_file))

    summary = json.loads(ok(capsys, "bill", "--period", "2026-10"))
    assert summary == {
        "period": "2026-10",
        "invoices": 1,
        "credit_notes": 0,
        "status": "draft",
        "totals": {"USD": "0.00"},
    }
    first = ok(capsys, "invoices", "--period", "2026-10", "--format", "json")
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
    ok(capsys, "bill", "--period", "2026-10")
    assert ok(capsys, "invoices", "--period", "2026-10", "--format", "json") == first

    # A new plan version does not change a period billed with the pinned version 1.
    catalog.write_text(NEW_VERSION)
    ok(capsys, "catalog", "apply", str(catalog))
    ok(capsys, "bill", "--period", "2026-10")
    assert ok(capsys, "invoices", "--period", "2026-10", "--format", "json") == first

    credits = json.loads(ok(capsys, "credits", "--customer", "acme", "--format", "json"))
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
    broken.write_text(CATALOG.replace("{plan: pro,", "{plan: gold,"))
    code, out, err = cli(capsys, "catalog", "apply", str(broken))
    assert (code, out) == (2, "")
    assert err == (
        f'billing: {broken}:29: customers[0].subscriptions[0].plan: unknown plan "gold"; '
        "define it under plans\n"
    )
    assert client.command(f"SELECT count() FROM `{database}`.billing_runs") == 0
    assert client.command(f"SELECT count() FROM `{database}`.catalog_versions") == 0
