"""Several products at once, end to end on the real warehouse, dbt and Dagster: a customer on
an API plan and a storage plan in the same month gets one invoice with each subscription's
lines together (storage first: it started first), each with its own minimum and discount,
a credit grant limited to storage that pays storage's share only, the same invoice as the
reference rater's, each metric's usage under the one subscription that charges it, and the
features of both plans."""

from __future__ import annotations

import itertools
import json

from billing_dagster.catalog.validate import validate_catalog_file
from tests.catalogs import (
    PRODUCTS_CATALOG,
    PRODUCTS_OCTOBER_LINES,
    PRODUCTS_OCTOBER_TOTALS,
    products_events,
)
from tests.pipeline.test_invoices_match_reference import comparable
from tests.reference.rating import reference_invoices
from tests.reference.usage import reference_ingest, usage_of_events
from tests.support import run


def test_an_api_and_a_storage_plan_make_one_invoice(client, database, home, tmp_path, capsys):
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(PRODUCTS_CATALOG)
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(products_events())
    run(capsys, "catalog", "apply", str(catalog_file))
    assert json.loads(run(capsys, "ingest", str(events_file))) == {
        "accepted": 12,
        "duplicates": 0,
        "quarantined": 0,
    }
    run(capsys, "bill", "--period", "2026-10")

    [invoice] = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))

    assert (invoice["invoice_id"], invoice["currency"]) == ("INV-2026-10-acme", "USD")
    lines = [(li["kind"], li["code"], li.get("plan"), li["amount"]) for li in invoice["lines"]]
    assert lines == PRODUCTS_OCTOBER_LINES
    assert {key: invoice[key] for key in PRODUCTS_OCTOBER_TOTALS} == PRODUCTS_OCTOBER_TOTALS
    groups = [
        subscription
        for subscription, _ in itertools.groupby(
            li.get("subscription_id") for li in invoice["lines"]
        )
    ]
    assert groups == ["acme:storage:2026-09-01", "acme:api:2026-10-16", None]
    catalog = validate_catalog_file(catalog_file)
    events = reference_ingest([[products_events()]], catalog).events
    assert [comparable(invoice)] == [
        comparable(i) for i in reference_invoices(events, catalog, "2026-10")
    ]

    usage = json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
    assert [(row["metric"], row["quantity"]) for row in usage] == [
        ("calls", "10"),
        ("stored_gb", "150"),
    ]  # each under the one subscription that charges it, not under both
    assert [
        {k: row[k] for k in expected}
        for row, expected in zip(usage, usage_of_events(events, catalog, "2026-10"), strict=True)
    ] == usage_of_events(events, catalog, "2026-10")

    features = json.loads(run(capsys, "entitlements", "--customer", "acme", "--format", "json"))
    assert sorted((f["feature"], f["kind"], f["has_access"]) for f in features) == [
        ("calls", "metered", True),
        ("sso", "boolean", True),
    ]
