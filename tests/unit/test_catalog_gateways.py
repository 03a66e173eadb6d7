"""A customer's payment gateway in the catalog: chosen per customer or by default, and a
currency the gateway cannot invoice refused at `catalog apply`, not at month end."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_dagster.catalog.validate import CatalogError, validate_catalog_file

CATALOG = """\
metrics:
  - {{code: calls, event_name: api_request, aggregation: count}}
plans:
  - code: yen
    name: Yen
    versions:
      - {{version: 1, effective_from: 2026-01-01, currency: JPY, charges: [{{metric: calls, model: per_unit, unit_price: "1"}}]}}
  - code: rupee
    name: Rupee
    versions:
      - {{version: 1, effective_from: 2026-01-01, currency: INR, charges: [{{metric: calls, model: per_unit, unit_price: "0.50"}}]}}
customers:
  - {{id: acme, name: Acme, {acme}subscriptions: [{{plan: yen, start: 2026-01-01}}]}}
  - {{id: tata, name: Tata, gateway: razorpay, subscriptions: [{{plan: rupee, start: 2026-01-01}}]}}
"""


def validate(acme: str = "", default: str = "file"):
    path = Path("catalog.yaml")
    path.write_text(CATALOG.format(acme=acme))
    return validate_catalog_file(path, default)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_each_customer_names_its_gateway_or_takes_the_default():
    catalog = validate("gateway: chargebee, ")
    assert [(c.id, c.gateway) for c in catalog.customers] == [
        ("acme", "chargebee"),
        ("tata", "razorpay"),
    ]
    assert validate().customers[0].gateway is None


def test_a_currency_the_gateway_cannot_invoice_is_refused_at_apply():
    with pytest.raises(CatalogError) as refused:
        validate("gateway: razorpay, ")
    assert refused.value.problems == [
        "catalog.yaml:13: customers[0].subscriptions[0]: is priced in JPY, which razorpay cannot "
        "invoice (its gateway takes EUR, GBP, INR, USD); give the customer another gateway or a "
        "plan in one of those currencies"
    ]
    with pytest.raises(CatalogError) as by_default:
        validate(default="razorpay")
    assert by_default.value.problems == [
        "catalog.yaml:13: customers[0].subscriptions[0]: is priced in JPY, which razorpay cannot "
        "invoice (the default gateway (BILLING_GATEWAY=razorpay) takes EUR, GBP, INR, USD); give "
        "the customer another gateway or a plan in one of those currencies"
    ]


def test_an_unknown_gateway_is_refused():
    with pytest.raises(CatalogError) as refused:
        validate("gateway: paypal, ")
    assert refused.value.problems == [
        "catalog.yaml:13: customers[0].gateway: must be one of stripe, chargebee, razorpay, file, "
        "got 'paypal'"
    ]
