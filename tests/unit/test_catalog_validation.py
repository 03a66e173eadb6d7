"""Catalog validation (CONTRACT.md §2): every rule, with the exact line a user reads."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal

import pytest

from billing_dagster.catalog.validate import CatalogError, validate_catalog_file

VALID = """\
metrics:
  - code: api_calls
    event_name: api_request
    aggregation: count
    filters: {status: ["200", 201, true]}
  - code: tokens
    event_name: completion
    aggregation: sum
    property: tokens
    group_by: model
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees:
          - {code: platform, amount: "49.00"}
        minimum_amount: "100.00"
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 10000, unit_price: "0"}
              - {up_to: 100000, unit_price: "0.001", flat_fee: "5.00"}
              - {up_to: null, unit_price: "0.0005"}
          - metric: tokens
            model: per_unit
            unit_price: "0.000002"
            group_prices:
              gpt-large: {model: per_unit, unit_price: "0.00003"}
      - version: 2
        effective_from: 2026-06-01
        currency: USD
        charges:
          - {metric: tokens, model: package, package_size: 100, package_price: "5.00", free_units: 10}
customers:
  - id: acme
    name: Acme Corp
    tax_rate: "0.20"
    subscriptions:
      - plan: pro
        start: 2026-01-15
        end: 2026-06-15
        overrides:
          charges: {api_calls: {model: per_unit, unit_price: "0.0008"}}
          fixed_fees: {platform: {amount: "39.00"}}
          minimum_amount: "0"
        discounts:
          - {type: percentage, value: "10", months: 3}
          - {type: fixed, amount: "20.00"}
      - plan: pro
        start: 2026-06-15
credit_grants:
  - {id: g1, customer: acme, amount: "500.00", effective: 2026-01-01, expires: 2026-12-31, priority: 1}
"""


def validate(tmp_path, text: str):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text))
    return validate_catalog_file(path), path


def problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(CatalogError) as error:
        validate_catalog_file(path)
    return [line.removeprefix(f"{path}:") for line in error.value.problems]


def test_a_valid_catalog_becomes_exact_values(tmp_path):
    catalog, _ = validate(tmp_path, VALID)
    api_calls, tokens = catalog.metrics
    assert api_calls.filters == {"status": ("200", "201", "true")}
    assert tokens.group_by == "model" and tokens.property == "tokens"
    v1 = catalog.plan_version("pro", 1)
    assert v1.minimum_amount == Decimal("100.00")
    assert [t.up_to for t in v1.charges[0].price.tiers] == [Decimal(10000), Decimal(100000), None]
    assert v1.charges[0].price.tiers[1].flat_fee == Decimal("5.00")
    assert v1.charges[1].group_prices["gpt-large"].unit_price == Decimal("0.00003")
    package = catalog.plan_version("pro", 2).charges[0].price
    assert (package.package_size, package.package_price, package.free_units) == (
        Decimal(100),
        Decimal("5.00"),
        Decimal(10),
    )
    first, second = catalog.customers[0].subscriptions
    assert (first.id, first.version, first.end) == ("acme:pro:2026-01-15", 1, date(2026, 6, 15))
    assert second.version == 2  # latest version in effect on its start
    assert first.overrides.fixed_fees == {"platform": Decimal("39.00")}
    assert [d.type for d in first.discounts] == ["percentage", "fixed"]
    assert catalog.customers[0].tax_rate == Decimal("0.20")
    assert catalog.credit_grants[0].expires == date(2026, 12, 31)


def change(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


CASES = [
    (
        change('amount: "49.00"', "amount: 49.00"),
        '19: plans[0].versions[0].fixed_fees[0].amount: must be a decimal string such as "49.00", '
        "not the float 49.00",
    ),
    (
        change('unit_price: "0.000002"', "unit_price: 0.000002"),
        "30: plans[0].versions[0].charges[1].unit_price: must be a decimal string such as "
        '"0.000002", not the float 0.000002',
    ),
    (
        change('minimum_amount: "100.00"', "minimum_amount: 100"),
        '20: plans[0].versions[0].minimum_amount: must be a decimal string: write "100" in quotes',
    ),
    (
        change('flat_fee: "5.00"', 'flat_fee: "-5.00"'),
        "26: plans[0].versions[0].charges[0].tiers[1].flat_fee: must not be negative, got -5.00",
    ),
    (
        change(
            "metric: tokens\n            model: per_unit",
            "metric: tokenz\n            model: per_unit",
        ),
        '28: plans[0].versions[0].charges[1].metric: unknown metric "tokenz"; define it under metrics',
    ),
    (
        change("up_to: 100000", "up_to: 5000"),
        "26: plans[0].versions[0].charges[0].tiers[1].up_to: tiers out of order: 5000 must be "
        "greater than the previous tier's up_to 10000",
    ),
    (
        change('{up_to: null, unit_price: "0.0005"}', '{up_to: 200000, unit_price: "0.0005"}'),
        "27: plans[0].versions[0].charges[0].tiers[2].up_to: the last tier must have up_to: null",
    ),
    (
        change("{up_to: 10000,", "{up_to: null,"),
        "25: plans[0].versions[0].charges[0].tiers[0].up_to: only the last tier may be unbounded "
        "(up_to: null)",
    ),
    (
        change("model: graduated", "model: stepped"),
        "23: plans[0].versions[0].charges[0].model: must be one of per_unit, graduated, volume, "
        "package, got 'stepped'",
    ),
    (
        change(
            'model: per_unit\n            unit_price: "0.000002"',
            'model: per_unit\n            unit_price: "0.000002"\n            package_size: 5',
        ),
        "31: plans[0].versions[0].charges[1].package_size: does not apply to the per_unit model",
    ),
    (
        change("package_size: 100, ", ""),
        "37: plans[0].versions[1].charges[0]: missing key 'package_size' (required by the package "
        "model)",
    ),
    (
        change("    group_by: model\n", ""),
        '31: plans[0].versions[0].charges[1].group_prices: metric "tokens" has no group_by, so it '
        "has no groups to price",
    ),
    (
        change("currency: USD", "currency: CHF"),
        "17: plans[0].versions[0].currency: must be one of USD, EUR, GBP, JPY, got 'CHF'",
    ),
    (
        change("aggregation: sum", "aggregation: avg"),
        "8: metrics[1].aggregation: must be one of count, sum, count_unique, max, latest, got 'avg'",
    ),
    (
        change("    property: tokens\n", ""),
        "6: metrics[1]: missing key 'property' (required by the sum aggregation)",
    ),
    (
        change('filters: {status: ["200", 201, true]}', "filters: {status: [2.5]}"),
        '5: metrics[0].filters.status[0]: write the value in quotes ("2.5"): values compare as text',
    ),
    (
        change("  - code: tokens", "  - code: api_calls"),
        "6: metrics[1].code: duplicate metric 'api_calls'",
    ),
    (
        change("        end: 2026-06-15\n", ""),
        "52: customers[0].subscriptions[1]: overlaps subscriptions[0] (pro from 2026-01-15); a "
        "customer has at most one active subscription at a time, so end one where the next starts",
    ),
    (
        change("end: 2026-06-15", "end: 2026-01-10"),
        "45: customers[0].subscriptions[0].end: must be after start (2026-01-15); end is exclusive",
    ),
    (
        change(
            "      - plan: pro\n        start: 2026-06-15",
            "      - plan: max\n        start: 2026-06-15",
        ),
        '53: customers[0].subscriptions[1].plan: unknown plan "max"',
    ),
    (
        change("start: 2026-01-15", "start: 2025-12-01"),
        '44: customers[0].subscriptions[0].start: no version of plan "pro" is in effect on '
        "2025-12-01 (the first starts 2026-01-01); name a version or start later",
    ),
    (
        change(
            "      - plan: pro\n        start: 2026-06-15",
            "      - plan: pro\n        version: 3\n        start: 2026-06-15",
        ),
        '54: customers[0].subscriptions[1].version: plan "pro" has no version 3',
    ),
    (
        change("api_calls: {model: per_unit", "storage: {model: per_unit"),
        '47: customers[0].subscriptions[0].overrides.charges.storage: metric "storage" is not '
        "charged by plan pro version 1",
    ),
    (
        change('value: "10"', 'value: "110"'),
        "51: customers[0].subscriptions[0].discounts[0].value: must be at most 100, got 110",
    ),
    (
        change('tax_rate: "0.20"', "tax_rate: 0.2"),
        '41: customers[0].tax_rate: must be a decimal string such as "0.2", not the float 0.2',
    ),
    (
        change("customer: acme, amount", "customer: hooli, amount"),
        '56: credit_grants[0].customer: unknown customer "hooli"',
    ),
    (
        change('amount: "500.00"', 'amount: "0"'),
        "56: credit_grants[0].amount: must be greater than 0",
    ),
    (
        change("expires: 2026-12-31", "expires: 2025-12-31"),
        "56: credit_grants[0].expires: must not be before effective (2026-01-01)",
    ),
    (
        change("effective_from: 2026-01-01", "effective_from: 2026-13-01"),
        "16: plans[0].versions[0].effective_from: must be a date written YYYY-MM-DD (UTC), got "
        "'2026-13-01'",
    ),
    (
        change("    name: Pro\n", "    name: Pro\n    color: blue\n"),
        "14: plans[0].color: unknown key 'color'",
    ),
    (change("metrics:", "metric:"), "1: (top level): missing key 'metrics'"),
    (
        change("  - version: 2", "  - version: 1"),
        "33: plans[0].versions[1].version: duplicate version 1",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[1][:60] for c in CASES])
def test_each_rule_reports_file_line_path_and_remedy(tmp_path, text, expected):
    assert expected in problems(tmp_path, text)


def test_every_problem_is_reported_at_once(tmp_path):
    text = change('amount: "49.00"', "amount: 49.00").replace("currency: USD", "currency: XYZ", 1)
    assert len(problems(tmp_path, text)) == 2


def test_yaml_syntax_errors_and_duplicate_keys_name_their_line(tmp_path):
    assert problems(tmp_path, "metrics: [\n") == [
        "2: not valid YAML: expected the node content, but found '<stream end>'"
    ]
    text = change("    name: Pro\n", "    name: Pro\n    name: Pro2\n")
    assert "14: plans[0].name: duplicate key" in problems(tmp_path, text)
