"""The rough edges a new user hit in the first hour (issue 14), each as it was met."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from billing_dagster.cli.main import main as billing
from billing_dagster.warehouse import embedded
from tests.processes import billing as billing_process
from tests.processes import stop_warehouse

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: basic
    name: Basic
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD, charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]}
  - code: pro
    name: Pro
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD, charges: [{metric: calls, model: per_unit, unit_price: "0.50"}]}
customers:
  - id: acme
    name: Acme
    subscriptions:
      - {plan: basic, start: 2026-10-01, end: 2026-10-15}
      - {plan: pro, start: 2026-10-15}
credit_grants:
  - {id: g1, customer: acme, amount: "150", effective: 2026-10-01}
"""


def run(capsys, *args: str, code: int = 0) -> tuple[str, str]:
    returned = billing(list(args))
    out, err = capsys.readouterr()
    assert returned == code, err[-2000:]
    return out, err


def test_rough_edges_of_the_command_line(database, home, tmp_path, capsys):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"e{day}",
                    "customer_id": "acme",
                    "event_name": "api_request",
                    "timestamp": f"2026-10-{day:02d}T10:00:00Z",
                }
            )
            + "\n"
            for day in range(1, 29)
        )
    )
    run(capsys, "ingest", str(events))

    # A period outside the partitions is bad input, said in a sentence (was a Dagster error).
    _, err = run(capsys, "bill", "--period", "2019-12", code=2)
    assert (
        err
        == "billing: --period 2019-12: billing periods start at 2020-01, the first metering day\n"
    )
    _, err = run(capsys, "bill", "--period", "2999-01", code=2)
    assert err.startswith("billing: --period 2999-01 has not begun; the latest period is ")
    # A period with no subscription is not billed (it stayed in `status` for ever).
    _, err = run(capsys, "bill", "--period", "2026-09", code=2)
    assert err == (
        "billing: no subscription of the catalog is active in 2026-09: there is nothing to bill\n"
    )
    run(capsys, "bill", "--period", "2026-10")
    status = json.loads(run(capsys, "status", "--format", "json")[0])
    assert [p["period"] for p in status["periods"]] == ["2026-10"]

    # An unknown invoice is "no such invoice" (was "is not a finalized invoice").
    _, err = run(capsys, "void", "--invoice", "INV-2026-10-nobody", "--reason", "x", code=2)
    assert err == (
        'billing: no such invoice "INV-2026-10-nobody"; `billing invoices --period YYYY-MM` '
        "lists a period's invoices\n"
    )

    # Usage of a customer who changed plan names each row's plan.
    table, _ = run(capsys, "usage", "--period", "2026-10")
    assert [line.split()[:3] for line in table.splitlines()[2:]] == [
        ["acme", "basic", "v1"],
        ["acme", "pro", "v1"],
    ]
    # Invoices for people show status and adjustments.
    table, _ = run(capsys, "invoices", "--period", "2026-10")
    assert table.splitlines()[0].split() == [
        "invoice_id",
        "customer_id",
        "status",
        "currency",
        "charges",
        "subtotal",
        "discount",
        "tax",
        "credits",
        "adjustments",
        "total",
    ]
    # Credits in money (150.00, not 150), and a period not billed yet is said to be so.
    rows = json.loads(run(capsys, "credits", "--customer", "acme", "--format", "json")[0])
    assert [(r["amount"], r["used"], r["balance"]) for r in rows] == [("150.00", "21.00", "129.00")]
    _, err = run(capsys, "credits", "--customer", "acme", "--period", "2026-11")
    assert err == (
        "billing: note: not billed yet: 2026-11; their use is what their metered usage would take\n"
    )


def test_a_failed_first_command_leaves_no_warehouse_and_a_closed_pipe_is_quiet(tmp_path):
    home = tmp_path / "home"
    failed = billing_process(home, "bill", "--period", "2026-10")
    _, err = failed.communicate(timeout=600)
    assert (failed.returncode, err) == (
        2,
        "billing: no catalog has been applied yet; run `billing catalog apply FILE` first\n",
    )
    assert embedded.running_endpoint(home) is None

    # A stray module in the user's directory does not stop the warehouse from starting.
    work = tmp_path / "work"
    work.mkdir()
    (work / "typing.py").write_text("raise SystemExit('the wrong typing')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    env["BILLING_HOME"] = str(home)
    script = Path(sys.executable).with_name("billing")
    try:
        started = subprocess.run(
            [str(script), "warehouse", "start"], cwd=work, env=env, capture_output=True, text=True
        )
        assert json.loads(started.stdout)["status"] == "running", started.stderr
        piped = subprocess.run(
            [
                "bash",
                "-c",
                f"'{script}' warehouse status | head -c 5; echo \" ${{PIPESTATUS[0]}}\"",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        assert (piped.stdout, piped.stderr) == ('{"sta 0\n', "")
    finally:
        stop_warehouse(home)


def test_an_unusable_setting_is_refused_before_anything_runs(home, capsys, monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_DATABASE", "billing-eu")
    out, err = run(capsys, "status", code=2)
    assert (out, err) == (
        "",
        "billing: CLICKHOUSE_DATABASE='billing-eu': expected a database name of letters, "
        "digits and underscores, not starting with a digit\n",
    )
    assert not embedded.running_endpoint(home)
