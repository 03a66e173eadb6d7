"""A plan version's `invoice_at_amount` (threshold invoicing): validated with the line a
user reads, written back by the YAML writer, and kept out of the digest of versions that do
not say it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billing_dagster.catalog.serialize import canonical_json, catalog_from_json
from billing_dagster.catalog.validate import CatalogError, validate_catalog_file
from billing_dagster.catalog.yaml_writer import catalog_yaml
from tests.catalogs import calls_catalog

CATALOG = calls_catalog(["{id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}"])


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _with_threshold(value: str, currency: str = "USD"):
    text = CATALOG.replace(
        "currency: USD\n", f"currency: {currency}\n        invoice_at_amount: {value}\n"
    )
    Path("catalog.yaml").write_text(text)
    return validate_catalog_file("catalog.yaml")


def test_invoice_at_amount_is_an_exact_amount_of_the_plan_version():
    catalog = _with_threshold('"500.00"')
    assert catalog.plan_version("pro", 1).invoice_at_amount == Decimal("500.00")
    assert catalog_from_json(canonical_json(catalog)) == catalog
    assert '"invoice_at_amount":"500.00"' in canonical_json(catalog.plans[0].versions[0])


def test_a_version_without_invoice_at_amount_hashes_as_before():
    Path("catalog.yaml").write_text(CATALOG)
    version = validate_catalog_file("catalog.yaml").plan_version("pro", 1)
    assert version.invoice_at_amount is None
    assert "invoice_at_amount" not in canonical_json(version)


def test_the_yaml_writer_writes_it_back():
    catalog = _with_threshold('"500.00"')
    Path("written.yaml").write_text(catalog_yaml(catalog))
    assert "invoice_at_amount: '500.00'" in Path("written.yaml").read_text()
    assert validate_catalog_file("written.yaml") == catalog


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (
            "500",
            "USD",
            "catalog.yaml:10: plans[0].versions[0].invoice_at_amount: must be a decimal string: "
            'write "500" in quotes',
        ),
        (
            '"0"',
            "USD",
            "catalog.yaml:10: plans[0].versions[0].invoice_at_amount: must be greater than 0",
        ),
        (
            '"-5.00"',
            "USD",
            "catalog.yaml:10: plans[0].versions[0].invoice_at_amount: must not be negative, "
            "got -5.00",
        ),
        (
            '"500.005"',
            "USD",
            "catalog.yaml:10: plans[0].versions[0].invoice_at_amount: must be a whole amount "
            "of USD's minor unit (2 decimals), got 500.005: an interim invoice is issued when "
            "the usage billed reaches it",
        ),
        (
            '"500.5"',
            "JPY",
            "catalog.yaml:10: plans[0].versions[0].invoice_at_amount: must be a whole amount "
            "of JPY's minor unit (0 decimals), got 500.5: an interim invoice is issued when "
            "the usage billed reaches it",
        ),
    ],
)
def test_invoice_at_amount_is_validated(value, currency, expected):
    with pytest.raises(CatalogError) as refused:
        _with_threshold(value, currency)
    assert refused.value.problems == [expected]
