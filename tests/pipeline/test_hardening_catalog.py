"""The catalog under hostile input and failures (issue 13): quotes and backslashes round-trip
to the invoice, an apply that dies leaves nothing behind, a customer with events cannot
silently disappear."""

from __future__ import annotations

import json

import pytest

from billing_dagster.catalog.store import apply_catalog, latest_catalog_version, load_catalog
from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.cli.main import main as billing

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: p
    name: P
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]
customers:
  - {id: 'acme\\eu', name: "O'Brien & Sons \\"Ltd\\"\\t\\\\", subscriptions: [{plan: p, start: 2026-10-01}]}
  - {id: plain, name: Plain, subscriptions: [{plan: p, start: 2026-10-01}]}
credit_grants:
  - {id: "g'1", customer: plain, amount: "2.00", effective: 2026-10-01}
"""


def run(capsys, *args: str, code: int = 0) -> str:
    returned = billing(list(args))
    out, err = capsys.readouterr()
    assert returned == code, err[-2000:]
    return out if code == 0 else err


def events(tmp_path, customer: str, count: int):
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"e{n}",
                    "customer_id": customer,
                    "event_name": "api_request",
                    "timestamp": f"2026-10-{n + 1:02d}T10:00:00Z",
                }
            )
            + "\n"
            for n in range(count)
        )
    )
    return path


def test_quotes_and_backslashes_in_the_catalog_reach_the_invoice(database, home, tmp_path, capsys):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    run(capsys, "ingest", str(events(tmp_path, "acme\\eu", 7)), str(events(tmp_path, "plain", 3)))
    run(capsys, "bill", "--period", "2026-10")
    invoices = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    assert [(i["customer_id"], i["lines"][0]["quantity"], i["total"]) for i in invoices] == [
        ("acme\\eu", "7", "7.00"),
        ("plain", "3", "1.00"),
    ]
    assert [line["code"] for line in invoices[1]["lines"]] == ["calls", "g'1"]


def test_an_apply_that_dies_midway_leaves_nothing_for_the_next(client, database, tmp_path):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    first = validate_catalog_file(tmp_path / "catalog.yaml")
    apply_catalog(client, database, first, "first.yaml", "")
    (tmp_path / "catalog.yaml").write_text(
        CATALOG.replace("id: plain, name: Plain", "id: plain, name: Renamed")
    )
    second = validate_catalog_file(tmp_path / "catalog.yaml")

    class DiesAtGrants:
        """The client of an apply killed after its customers were written."""

        def __getattr__(self, name):
            return getattr(client, name)

        def insert(self, table, *args, **kwargs):
            if table.endswith("catalog_credit_grants"):
                raise ConnectionError("killed")
            return client.insert(table, *args, **kwargs)

    with pytest.raises(ConnectionError):
        apply_catalog(DiesAtGrants(), database, second, "second.yaml", "")
    assert latest_catalog_version(client, database) == 1
    leftovers = client.command(
        f"SELECT count() FROM `{database}`.catalog_customers WHERE catalog_version = 2"
    )
    assert leftovers == 2  # written, not committed: no reader sees them

    applied = apply_catalog(client, database, second, "second.yaml", "")
    assert applied.version == 2
    rows = client.query(
        f"SELECT customer_id, name FROM `{database}`.catalog_customers "
        f"WHERE catalog_version = 2 ORDER BY customer_id"
    ).result_rows
    assert [customer for customer, _ in rows] == ["acme\\eu", "plain"]
    assert rows[1][1] == "Renamed"
    assert load_catalog(client, database, 2) == second


def test_a_customer_with_events_cannot_be_dropped_from_the_catalog(
    database, home, tmp_path, capsys
):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    run(capsys, "catalog", "apply", str(tmp_path / "catalog.yaml"))
    run(capsys, "ingest", str(events(tmp_path, "acme\\eu", 2)))
    dropped = tmp_path / "dropped.yaml"
    dropped.write_text(CATALOG.replace(CATALOG.splitlines()[11] + "\n", ""))
    err = run(capsys, "catalog", "apply", str(dropped), code=2)
    assert err == (
        f'billing: {dropped}: customers: customer "acme\\eu" is missing, but it has events or '
        f"invoices; keep it and end its subscriptions (end: YYYY-MM-DD) instead\n"
    )
