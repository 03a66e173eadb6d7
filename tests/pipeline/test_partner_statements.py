"""Partner statements from finalized documents: made once and never rewritten (not by a new
share in the catalog either); a later correction reaches the next statement; the Dagster asset
makes the same statement as the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg

from billing_dagster.defs.partners.assets import partner_statement_lines
from billing_dagster.defs.resources import ClickHouseResource
from testbed.documents import invoice, line, usage, write_finalized
from tests.conftest import REPO
from tests.support import cli, run

CATALOG = """\
metrics:
  - {{code: calls, event_name: api_request, aggregation: count}}
plans:
  - code: pro
    name: Pro
    versions:
      - {{version: 1, effective_from: 2026-01-01, currency: USD, charges: [{{metric: calls, model: per_unit, unit_price: "0.10"}}]}}
customers:
  - {{id: acme, name: Acme, subscriptions: [{{plan: pro, start: 2026-01-01}}]}}
  - {{id: globex, name: Globex, subscriptions: [{{plan: pro, start: 2026-01-01}}]}}
partners:
  - id: reseller
    name: "Reseller \\"One\\""
    share: "{share}"
    customers:
      - {{id: acme, from: 2026-10-15}}
"""


def apply(capsys, tmp_path, share: str) -> None:
    path = tmp_path / f"catalog-{share}.yaml"
    path.write_text(CATALOG.format(share=share))
    run(capsys, "catalog", "apply", str(path))


def statements(capsys, period: str) -> list[dict]:
    return json.loads(run(capsys, "partner-statements", "--period", period, "--format", "json"))


def test_statements_are_made_once_and_corrections_reach_the_next(
    client, database, home, settings, tmp_path, capsys
):
    apply(capsys, tmp_path, "0.15")
    october = [
        invoice(
            "acme",
            "2026-10",
            "USD",
            [
                line("fixed_fee", "49.00", "platform"),
                usage("calls", "1000", "100.00", [(1, "1000", "0.10", "0", "100.00")]),
                line("discount", "-10.00"),
                line("tax", "27.80"),
            ],
        ),
        invoice("globex", "2026-10", "USD", [line("fixed_fee", "49.00", "platform")]),
    ]
    code, _, err = cli(capsys, "partner-statements", "--period", "2026-10")
    assert (code, err.strip()) == (
        2,
        "billing: period 2026-10 is not finalized: partner statements read finalized documents "
        "only; run `billing finalize --period 2026-10` first",
    )
    write_finalized(client, database, "2026-10", october)
    first = statements(capsys, "2026-10")
    assert first == [
        {
            "partner_id": "reseller",
            "period": "2026-10",
            "totals": {"USD": "20.85"},
            "lines": [
                {
                    "customer_id": "acme",
                    "document_id": "INV-2026-10-acme",
                    "document_kind": "invoice",
                    "for_period": "2026-10",
                    "currency": "USD",
                    "basis": "139.00",
                    "share": "0.15",
                    "amount": "20.85",
                }
            ],
        }
    ]

    # A new share applies from the next statement; October's stays as it was made.
    apply(capsys, tmp_path, "0.25")
    assert statements(capsys, "2026-10") == first

    # November carries a correction of October (a late usage line) and a credit note.
    adjustment = line(
        "adjustment",
        "13.20",
        "2026-10",
        adjusts_invoice="INV-2026-10-acme",
        billed_total="166.80",
        corrected_total="180.00",
        details=[
            {
                "kind": "usage",
                "code": "calls",
                "group": None,
                "subscription_id": None,
                "quantity_billed": "1000",
                "quantity_corrected": "1110",
                "amount_billed": "100.00",
                "amount_corrected": "111.00",
            },
            {
                "kind": "tax",
                "code": None,
                "group": None,
                "subscription_id": None,
                "quantity_billed": None,
                "quantity_corrected": None,
                "amount_billed": "27.80",
                "amount_corrected": "30.00",
            },
        ],
    )
    november = [
        invoice("acme", "2026-11", "USD", [line("fixed_fee", "49.00", "platform"), adjustment])
    ]
    write_finalized(client, database, "2026-11", november)
    result = dg.materialize(
        [partner_statement_lines],
        partition_key="2026-11-01",
        instance=dg.DagsterInstance.ephemeral(),
        resources={"clickhouse": ClickHouseResource.of(home, settings)},
    )
    (materialized,) = result.asset_materializations_for_node("partner_statement_lines")
    assert materialized.metadata["totals"].value == {"reseller": {"USD": "15.00"}}
    [made] = statements(capsys, "2026-11")
    assert [
        (x["document_kind"], x["for_period"], x["basis"], x["amount"]) for x in made["lines"]
    ] == [
        ("adjustment", "2026-10", "11.00", "2.75"),
        ("invoice", "2026-11", "49.00", "12.25"),
    ]
    assert statements(capsys, "2026-10") == first
    assert client.command(f"SELECT count() FROM `{database}`.partner_statements") == 2

    # December's statement asked twice at once: both print the one that stands.
    write_finalized(
        client,
        database,
        "2026-12",
        [invoice("acme", "2026-12", "USD", [line("fixed_fee", "49.00", "platform")])],
    )
    command = [sys.executable, "-m", "billing_dagster.cli.main", "partner-statements"]
    both = [
        subprocess.Popen(
            [*command, "--period", "2026-12", "--format", "json"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    printed = [json.loads(process.communicate(timeout=120)[0]) for process in both]
    assert (
        printed[0]
        == printed[1]
        == [
            {
                "partner_id": "reseller",
                "period": "2026-12",
                "totals": {"USD": "12.25"},
                "lines": [
                    {
                        "customer_id": "acme",
                        "document_id": "INV-2026-12-acme",
                        "document_kind": "invoice",
                        "for_period": "2026-12",
                        "currency": "USD",
                        "basis": "49.00",
                        "share": "0.25",
                        "amount": "12.25",
                    }
                ],
            }
        ]
    )
