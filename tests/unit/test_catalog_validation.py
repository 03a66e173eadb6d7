"""Catalog validation (CONTRACT.md §2): every rule, with the exact line a user reads.

Each case changes one thing in VALID (the contract's example, completed so that it is valid)
and expects the exact problems, `<file>:<line>: <path>: <message>`, and nothing else.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing_dagster.catalog.validate import CatalogError, validate_catalog, validate_catalog_file
from billing_dagster.catalog.yaml_source import load_yaml
from tests.catalogs import VALID


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Problems name the file as given: a relative name keeps the expected text short."""
    monkeypatch.chdir(tmp_path)


def problems(text: str) -> list[str]:
    Path("catalog.yaml").write_text(text)
    with pytest.raises(CatalogError) as error:
        validate_catalog_file("catalog.yaml")
    return error.value.problems


def change(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_contract_example_becomes_exact_values():
    Path("catalog.yaml").write_text(VALID)
    catalog = validate_catalog_file("catalog.yaml")

    api_calls, tokens, storage = catalog.metrics
    assert api_calls.filters == {"status": ("200", "201", "true")}  # as JSON writes them
    assert (api_calls.aggregation, api_calls.property) == ("count", None)
    assert (tokens.property, tokens.group_by) == ("tokens", "model")
    assert (storage.code, storage.aggregation, storage.property) == ("storage_gb", "max", "gb")

    v1 = catalog.plan_version("pro", 1)
    assert (v1.effective_from, v1.currency) == (date(2026, 1, 1), "USD")
    assert [(f.code, str(f.amount)) for f in v1.fixed_fees] == [("platform", "49.00")]
    assert str(v1.minimum_amount) == "100.00"
    graduated, per_unit, package = v1.charges
    assert graduated.price.model == "graduated"
    assert [(t.up_to, str(t.unit_price), t.flat_fee) for t in graduated.price.tiers] == [
        (Decimal(10000), "0", Decimal(0)),
        (Decimal(100000), "0.001", Decimal("5.00")),
        (None, "0.0005", Decimal(0)),
    ]
    assert str(per_unit.price.unit_price) == "0.000002"
    assert str(per_unit.group_prices["gpt-large"].unit_price) == "0.00003"
    assert (package.metric, package.price.package_size, str(package.price.package_price)) == (
        "storage_gb",
        Decimal(100),
        "5.00",
    )
    assert package.price.free_units == 0
    limit, switch = v1.entitlements
    assert (limit.feature, limit.limit, limit.enforcement) == ("api_calls", 1000000, "soft")
    assert (switch.feature, switch.enabled) == ("sso", True)

    v2 = catalog.plan_version("pro", 2)
    assert v2.effective_from == date(2026, 6, 1)  # quoted dates are dates too
    assert v2.minimum_amount is None
    assert [t.up_to for t in v2.charges[0].price.tiers] == [Decimal("1000.5"), None]

    acme, globex = catalog.customers
    assert acme.tax_rate == Decimal("0.20") and globex.tax_rate == 0
    first, second = acme.subscriptions
    assert (first.id, first.version, first.start, first.end) == (
        "acme:pro:2026-01-15",
        1,
        date(2026, 1, 15),
        date(2026, 6, 15),
    )
    assert first.overrides.charges["api_calls"].unit_price == Decimal("0.0008")
    assert first.overrides.fixed_fees == {"platform": Decimal("39.00")}
    assert first.overrides.minimum_amount == 0
    assert [(d.type, d.value, d.months) for d in first.discounts] == [
        ("percentage", Decimal(10), 3),
        ("fixed", Decimal("20.00"), None),
    ]
    # No version given: the latest in effect on the start date.
    assert (second.id, second.version, second.end) == ("acme:pro:2026-06-15", 2, None)
    assert (globex.subscriptions[0].id, globex.subscriptions[0].version) == (
        "globex:pro:2026-03-01",
        1,
    )
    g1, g2 = catalog.credit_grants
    assert (g1.amount, g1.expires, g1.priority) == (Decimal("500.00"), date(2026, 12, 31), 1)
    assert (g2.customer, g2.expires, g2.priority) == ("globex", None, 0)
    assert catalog.subscriptions == (first, second, globex.subscriptions[0])


def test_validate_catalog_takes_a_loaded_document():
    Path("catalog.yaml").write_text(VALID)
    assert validate_catalog(load_yaml("catalog.yaml")) == validate_catalog_file("catalog.yaml")


def test_yes_and_no_stay_text_and_merge_keys_work():
    text = change('filters: {status: ["200", 201, true]}', "filters: {country: [NO, on]}")
    text = change(
        'gpt-large: {model: per_unit, unit_price: "0.00003"}\n',
        'gpt-large: &large {model: per_unit, unit_price: "0.00003"}\n'
        '              gpt-small: {<<: *large, unit_price: "0.00001"}\n',
        text,
    )
    Path("catalog.yaml").write_text(text)
    catalog = validate_catalog_file("catalog.yaml")
    assert catalog.metrics[0].filters == {"country": ("NO", "on")}
    group_prices = catalog.plan_version("pro", 1).charges[1].group_prices
    assert group_prices["gpt-small"].model == "per_unit"
    assert group_prices["gpt-small"].unit_price == Decimal("0.00001")
    assert group_prices["gpt-large"].unit_price == Decimal("0.00003")


NEW_PLAN = "  - {code: pro, name: Pro again, versions: [{version: 1, effective_from: 2026-01-01, currency: USD}]}\n"

CASES: dict[str, tuple[str, list[str]]] = {
    # -- the document --
    "top level must have metrics": (
        change("metrics:\n", "metric:\n"),
        [
            "catalog.yaml:1: (top level): missing key 'metrics'",
            "catalog.yaml:1: metric: unknown key 'metric' (allowed here: alerts, credit_grants, customers, metrics, partners, pii_properties, plans, quota_grants)",
        ],
    ),
    "unknown top-level key": (
        VALID + "discounts: []\n",
        [
            "catalog.yaml:82: discounts: unknown key 'discounts' (allowed here: alerts, credit_grants, customers, metrics, partners, pii_properties, plans, quota_grants)"
        ],
    ),
    "plans must be a list": (
        change("plans:\n  - code: pro", "plans: {}\nx:\n  - code: pro"),
        [
            "catalog.yaml:15: plans: must be a list",
            "catalog.yaml:16: x: unknown key 'x' (allowed here: alerts, credit_grants, customers, metrics, partners, pii_properties, plans, quota_grants)",
        ],
    ),
    "duplicate key": (
        change("    name: Pro\n", "    name: Pro\n    name: Pro2\n"),
        ["catalog.yaml:18: plans[0].name: duplicate key; write each key once"],
    ),
    "unsupported tag": (
        change('amount: "500.00"', 'amount: !money "500.00"'),
        ["catalog.yaml:80: credit_grants[0].amount: unsupported tag '!money'; remove it"],
    ),
    # -- metrics --
    "duplicate metric code": (
        change("plans:\n", "  - {code: tokens, event_name: x, aggregation: count}\nplans:\n"),
        ["catalog.yaml:15: metrics[3].code: duplicate metric 'tokens'; each must appear only once"],
    ),
    "metric code required": (
        change("plans:\n", "  - {event_name: x, aggregation: count}\nplans:\n"),
        ["catalog.yaml:15: metrics[3]: missing key 'code'"],
    ),
    "metric code must be text": (
        change("plans:\n", "  - {code: 42, event_name: x, aggregation: count}\nplans:\n"),
        ['catalog.yaml:15: metrics[3].code: must be a string: write it in quotes ("42")'],
    ),
    "event_name non-empty": (
        change("event_name: completion", 'event_name: ""'),
        ["catalog.yaml:7: metrics[1].event_name: must be a non-empty string"],
    ),
    "aggregation": (
        change("aggregation: sum", "aggregation: avg"),
        [
            "catalog.yaml:8: metrics[1].aggregation: must be one of count, sum, count_unique, max, latest, time_weighted_sum, percentile, got 'avg'"
        ],
    ),
    "property required except for count": (
        change("    property: tokens\n", ""),
        ["catalog.yaml:6: metrics[1]: missing key 'property' (required by the sum aggregation)"],
    ),
    "count takes no property": (
        change("aggregation: count\n", "aggregation: count\n    property: status\n"),
        ["catalog.yaml:5: metrics[0].property: a count takes no property; remove it"],
    ),
    "filter float": (
        change('filters: {status: ["200", 201, true]}', "filters: {status: [2.50]}"),
        [
            'catalog.yaml:5: metrics[0].filters.status[0]: write the value in quotes ("2.50"): values compare as text'
        ],
    ),
    "filter needs values": (
        change('filters: {status: ["200", 201, true]}', "filters: {status: []}"),
        ["catalog.yaml:5: metrics[0].filters.status: must be a non-empty list of accepted values"],
    ),
    "group_by must be text": (
        change("group_by: model", "group_by: [model]"),
        ["catalog.yaml:10: metrics[1].group_by: must be a non-empty string"],
    ),
    "unknown metric key": (
        change("    group_by: model\n", "    group_by: model\n    units: tokens\n"),
        [
            "catalog.yaml:11: metrics[1].units: unknown key 'units' (allowed here: aggregation, "
            "bucket, code, event_name, filters, group_by, percentile, property, unit)"
        ],
    ),
    "a unit only on a time_weighted_sum": (
        change("    group_by: model\n", "    group_by: model\n    unit: hour\n"),
        [
            "catalog.yaml:11: metrics[1].unit: only a time_weighted_sum takes a unit; remove it "
            "from this sum"
        ],
    ),
    "a time_weighted_sum needs a unit": (
        change("aggregation: max", "aggregation: time_weighted_sum"),
        [
            "catalog.yaml:11: metrics[2]: missing key 'unit' (hour or day) required by "
            "time_weighted_sum"
        ],
    ),
    "a time_weighted_sum's unit is hour or day": (
        change("aggregation: max", "aggregation: time_weighted_sum\n    unit: minute"),
        ["catalog.yaml:14: metrics[2].unit: must be one of hour, day, got 'minute'"],
    ),
    "a time_weighted_sum needs a property": (
        change(
            "aggregation: max\n    property: gb", "aggregation: time_weighted_sum\n    unit: hour"
        ),
        [
            "catalog.yaml:11: metrics[2]: missing key 'property' (required by the "
            "time_weighted_sum aggregation)"
        ],
    ),
    "a percentile needs its percentile and bucket": (
        change("aggregation: max", "aggregation: percentile"),
        [
            "catalog.yaml:11: metrics[2]: missing key 'percentile' (a number above 0 and at most "
            "100) required by percentile",
            "catalog.yaml:11: metrics[2]: missing key 'bucket' (minutes or hours dividing a day, "
            "such as 5m) required by percentile",
        ],
    ),
    "a percentile is at most 100": (
        change(
            "aggregation: max", 'aggregation: percentile\n    percentile: "100.5"\n    bucket: 5m'
        ),
        [
            "catalog.yaml:14: metrics[2].percentile: must be above 0 and at most 100, with at "
            "most 6 decimals, got 100.5"
        ],
    ),
    "a percentile is no float": (
        change("aggregation: max", "aggregation: percentile\n    percentile: 99.9\n    bucket: 5m"),
        [
            "catalog.yaml:14: metrics[2].percentile: must be a whole number or a decimal string "
            'such as "99.9", not the float 99.9'
        ],
    ),
    "a bucket divides a day": (
        change("aggregation: max", "aggregation: percentile\n    percentile: 95\n    bucket: 7m"),
        [
            "catalog.yaml:15: metrics[2].bucket: must be minutes or hours that divide a day, such "
            "as 5m, 15m or 1h, got '7m'"
        ],
    ),
    "a bucket only on a percentile": (
        change("    property: gb\n", "    property: gb\n    bucket: 5m\n"),
        [
            "catalog.yaml:15: metrics[2].bucket: only a percentile takes a bucket; remove it from this max"
        ],
    ),
    "a time_weighted_sum is no entitlement's metric": (
        change(
            "{feature: api_calls, limit",
            "{feature: storage, metric: storage_gb, limit",
            change("aggregation: max", "aggregation: time_weighted_sum\n    unit: day"),
        ),
        [
            'catalog.yaml:44: plans[0].versions[0].entitlements[0].metric: metric "storage_gb" is '
            "a time_weighted_sum, which is known only once its period ends; an entitlement "
            "limits a count, sum, count_unique, max or latest"
        ],
    ),
    # -- decimals and quantities --
    "float amount": (
        change('amount: "49.00"', "amount: 49.00"),
        [
            'catalog.yaml:23: plans[0].versions[0].fixed_fees[0].amount: must be a decimal string such as "49.00", not the float 49.00'
        ],
    ),
    "float price": (
        change('unit_price: "0.001", flat_fee: "5.00"', 'unit_price: 0.001, flat_fee: "5.00"'),
        [
            'catalog.yaml:30: plans[0].versions[0].charges[0].tiers[1].unit_price: must be a decimal string such as "0.001", not the float 0.001'
        ],
    ),
    "whole number money": (
        change('minimum_amount: "100.00"', "minimum_amount: 100"),
        [
            'catalog.yaml:24: plans[0].versions[0].minimum_amount: must be a decimal string: write "100" in quotes'
        ],
    ),
    "negative fee": (
        change('flat_fee: "5.00"', 'flat_fee: "-5.00"'),
        [
            "catalog.yaml:30: plans[0].versions[0].charges[0].tiers[1].flat_fee: must not be negative, got -5.00"
        ],
    ),
    "malformed decimal": (
        change('package_price: "5.00"', 'package_price: "5,00"'),
        [
            "catalog.yaml:40: plans[0].versions[0].charges[2].package_price: must be a decimal string such as \"12.50\", got '5,00'"
        ],
    ),
    "float quantity": (
        change("package_size: 100", "package_size: 100.0"),
        [
            'catalog.yaml:39: plans[0].versions[0].charges[2].package_size: must be a whole number or a decimal string such as "100.0", not the float 100.0'
        ],
    ),
    "package size positive": (
        change("package_size: 100", "package_size: 0"),
        ["catalog.yaml:39: plans[0].versions[0].charges[2].package_size: must be greater than 0"],
    ),
    "free units not negative": (
        change("free_units: 0", "free_units: -1"),
        [
            "catalog.yaml:41: plans[0].versions[0].charges[2].free_units: must not be negative, got -1"
        ],
    ),
    # -- plans and versions --
    "duplicate plan code": (
        change("customers:\n", NEW_PLAN + "customers:\n"),
        ["catalog.yaml:56: plans[1].code: duplicate plan 'pro'; each must appear only once"],
    ),
    "versions not empty": (
        change("customers:\n", "  - {code: basic, name: Basic, versions: []}\ncustomers:\n"),
        ["catalog.yaml:56: plans[1].versions: must not be empty"],
    ),
    "version positive": (
        change("      - version: 2", "      - version: 0"),
        ["catalog.yaml:45: plans[0].versions[1].version: must be at least 1, got 0"],
    ),
    "version unique": (
        change("      - version: 2", "      - version: 1"),
        [
            "catalog.yaml:45: plans[0].versions[1].version: duplicate version 1; each must appear only once"
        ],
    ),
    "impossible date": (
        change("effective_from: 2026-01-01", "effective_from: 2026-13-01"),
        [
            "catalog.yaml:20: plans[0].versions[0].effective_from: must be a date written YYYY-MM-DD (UTC), got '2026-13-01'"
        ],
    ),
    "date with a time": (
        change('effective_from: "2026-06-01"', "effective_from: 2026-06-01T00:00:00Z"),
        [
            "catalog.yaml:46: plans[0].versions[1].effective_from: must be a date without a time of day, written YYYY-MM-DD (UTC)"
        ],
    ),
    "currency": (
        change(
            'currency: USD\n        fixed_fees:\n          - {code: platform, amount: "49.00"}',
            'currency: CHF\n        fixed_fees:\n          - {code: platform, amount: "49.00"}',
        ),
        [
            "catalog.yaml:21: plans[0].versions[0].currency: must be one of USD, EUR, GBP, INR, JPY, got 'CHF'"
        ],
    ),
    "fixed fee codes unique": (
        change(
            '          - {code: platform, amount: "49.00"}\n',
            '          - {code: platform, amount: "49.00"}\n          - {code: platform, amount: "1.00"}\n',
        ),
        [
            "catalog.yaml:24: plans[0].versions[0].fixed_fees[1].code: duplicate fee 'platform'; each must appear only once"
        ],
    ),
    "minimum not negative": (
        change('minimum_amount: "100.00"', 'minimum_amount: "-1"'),
        ["catalog.yaml:24: plans[0].versions[0].minimum_amount: must not be negative, got -1"],
    ),
    "a metric is charged once per version": (
        change(
            '{up_to: null, unit_price: "0.001", flat_fee: "1"}\n',
            '{up_to: null, unit_price: "0.001", flat_fee: "1"}\n          - {metric: api_calls, model: per_unit, unit_price: "1"}\n',
        ),
        [
            "catalog.yaml:56: plans[0].versions[1].charges[1].metric: duplicate charge for metric 'api_calls'; each must appear only once"
        ],
    ),
    "entitlement enforcement": (
        change("enforcement: soft", "enforcement: strict"),
        [
            "catalog.yaml:43: plans[0].versions[0].entitlements[0].enforcement: must be one of soft, hard, got 'strict'"
        ],
    ),
    "entitlement is a switch or a limit": (
        change("{feature: sso, enabled: true}", "{feature: sso, enabled: true, limit: 5}"),
        [
            "catalog.yaml:44: plans[0].versions[0].entitlements[1]: a feature with enabled takes nothing else; remove limit"
        ],
    ),
    "a metered feature counts a metric": (
        change("{feature: api_calls, limit", "{feature: calls, limit"),
        [
            'catalog.yaml:43: plans[0].versions[0].entitlements[0].feature: feature "calls" is '
            "not a metric; name the metric it counts with metric: CODE"
        ],
    ),
    "a metered feature names a known metric": (
        change("{feature: api_calls, limit", "{feature: calls, metric: nope, limit"),
        [
            'catalog.yaml:43: plans[0].versions[0].entitlements[0].metric: unknown metric "nope"; '
            "define it under metrics"
        ],
    ),
    "a metered period is one of three": (
        change("enforcement: soft}", "enforcement: soft, period: week}"),
        [
            "catalog.yaml:43: plans[0].versions[0].entitlements[0].period: must be one of "
            "billing_period, day, hour, got 'week'"
        ],
    ),
    "a static feature's config is a mapping": (
        change("{feature: sso, enabled: true}", "{feature: sso, config: [1]}"),
        [
            "catalog.yaml:44: plans[0].versions[0].entitlements[1].config: must be a mapping (the "
            "feature's JSON config)"
        ],
    ),
    "a limit needs its enforcement": (
        change("limit: 1000000, enforcement: soft", "limit: 1000000"),
        [
            "catalog.yaml:43: plans[0].versions[0].entitlements[0]: missing key 'enforcement' "
            "(soft or hard) for a limit"
        ],
    ),
    "entitlement switch is a bool": (
        change("enabled: true", "enabled: yes"),
        ["catalog.yaml:44: plans[0].versions[0].entitlements[1].enabled: must be true or false"],
    ),
    "entitlement features unique": (
        change("{feature: sso, enabled: true}", "{feature: api_calls, enabled: true}"),
        [
            "catalog.yaml:44: plans[0].versions[0].entitlements[1].feature: duplicate entitlement for 'api_calls'; each must appear only once"
        ],
    ),
    "unknown plan key": (
        change("    name: Pro\n", "    name: Pro\n    color: blue\n"),
        [
            "catalog.yaml:18: plans[0].color: unknown key 'color' (allowed here: code, name, product, versions)"
        ],
    ),
    # -- charges --
    "unknown metric": (
        change("metric: storage_gb", "metric: storage"),
        [
            'catalog.yaml:37: plans[0].versions[0].charges[2].metric: unknown metric "storage"; define it under metrics'
        ],
    ),
    "charge model": (
        change("model: graduated", "model: stepped"),
        [
            "catalog.yaml:27: plans[0].versions[0].charges[0].model: must be one of per_unit, graduated, volume, package, got 'stepped'"
        ],
    ),
    "charge model required": (
        change("            model: package\n", ""),
        [
            "catalog.yaml:37: plans[0].versions[0].charges[2]: missing key 'model' (one of per_unit, graduated, volume, package)"
        ],
    ),
    "fields of another model": (
        change(
            '            unit_price: "0.000002"\n',
            '            unit_price: "0.000002"\n            package_size: 5\n',
        ),
        [
            "catalog.yaml:35: plans[0].versions[0].charges[1].package_size: does not apply to per_unit, which takes unit_price"
        ],
    ),
    "fields of the model required": (
        change("            package_size: 100\n", ""),
        [
            "catalog.yaml:37: plans[0].versions[0].charges[2]: missing key 'package_size' (required by the package model)"
        ],
    ),
    "unknown charge key": (
        change(
            "            free_units: 0\n", "            free_units: 0\n            currency: EUR\n"
        ),
        [
            "catalog.yaml:42: plans[0].versions[0].charges[2].currency: unknown key 'currency' (allowed here: free_units, group_prices, metric, model, package_price, package_size)"
        ],
    ),
    "tiers not empty": (
        change(
            '            tiers:\n              - {up_to: "1000.5", unit_price: "0.002"}\n'
            '              - {up_to: null, unit_price: "0.001", flat_fee: "1"}\n',
            "            tiers: []\n",
        ),
        ["catalog.yaml:53: plans[0].versions[1].charges[0].tiers: must not be empty"],
    ),
    "tiers in order": (
        change("up_to: 100000", "up_to: 5000"),
        [
            "catalog.yaml:30: plans[0].versions[0].charges[0].tiers[1].up_to: tiers out of order: 5000 must be greater than the previous tier's up_to 10000"
        ],
    ),
    "tiers strictly increasing": (
        change("up_to: 100000", "up_to: 10000"),
        [
            "catalog.yaml:30: plans[0].versions[0].charges[0].tiers[1].up_to: tiers out of order: 10000 must be greater than the previous tier's up_to 10000"
        ],
    ),
    "last tier unbounded": (
        change('{up_to: null, unit_price: "0.0005"}', '{up_to: 200000, unit_price: "0.0005"}'),
        [
            "catalog.yaml:31: plans[0].versions[0].charges[0].tiers[2].up_to: the last tier must have up_to: null"
        ],
    ),
    "only the last tier unbounded": (
        change("{up_to: 10000,", "{up_to: null,"),
        [
            "catalog.yaml:29: plans[0].versions[0].charges[0].tiers[0].up_to: only the last tier may be unbounded (up_to: null)"
        ],
    ),
    "up_to written out": (
        change('{up_to: null, unit_price: "0.0005"}', '{unit_price: "0.0005"}'),
        ["catalog.yaml:31: plans[0].versions[0].charges[0].tiers[2]: missing key 'up_to'"],
    ),
    "group prices need group_by": (
        change("    group_by: model\n", ""),
        [
            'catalog.yaml:34: plans[0].versions[0].charges[1].group_prices: metric "tokens" has no group_by, so it has no groups to price; remove group_prices or add group_by to the metric'
        ],
    ),
    "group price has no metric": (
        change("gpt-large: {model", "gpt-large: {metric: tokens, model"),
        [
            "catalog.yaml:36: plans[0].versions[0].charges[1].group_prices.gpt-large.metric: unknown key 'metric' (allowed here: model, unit_price)"
        ],
    ),
    # -- customers and subscriptions --
    "customer id unique": (
        change("  - id: globex", "  - id: acme"),
        [
            "catalog.yaml:75: customers[1].id: duplicate customer 'acme'; each must appear only once",
            'catalog.yaml:81: credit_grants[1].customer: unknown customer "globex"; define it under customers',
        ],
    ),
    "customer name required": (
        change("    name: Globex\n", ""),
        ["catalog.yaml:75: customers[1]: missing key 'name'"],
    ),
    "time zone known": (
        change('tax_rate: "0.20"', 'tax_rate: "0.20"\n    timezone: Mars/Olympus'),
        [
            "catalog.yaml:60: customers[0].timezone: unknown time zone 'Mars/Olympus': give an "
            "IANA zone name such as America/Los_Angeles or Asia/Kolkata (default UTC)"
        ],
    ),
    "time zone a string": (
        change('tax_rate: "0.20"', 'tax_rate: "0.20"\n    timezone: 5'),
        ['catalog.yaml:60: customers[0].timezone: must be a string: write it in quotes ("5")'],
    ),
    "tax rate at most 1": (
        change('tax_rate: "0.20"', 'tax_rate: "20"'),
        ["catalog.yaml:59: customers[0].tax_rate: must be at most 1, got 20"],
    ),
    "tax rate not a float": (
        change('tax_rate: "0.20"', "tax_rate: 0.2"),
        [
            'catalog.yaml:59: customers[0].tax_rate: must be a decimal string such as "0.2", not the float 0.2'
        ],
    ),
    "unknown plan": (
        change("{plan: pro, start: 2026-03-01}", "{plan: max, start: 2026-03-01}"),
        [
            'catalog.yaml:78: customers[1].subscriptions[0].plan: unknown plan "max"; define it under plans'
        ],
    ),
    "unknown version": (
        change("        version: 1\n", "        version: 3\n"),
        [
            'catalog.yaml:62: customers[0].subscriptions[0].version: plan "pro" has no version 3 (it has 1, 2)'
        ],
    ),
    "no version in effect": (
        change("{plan: pro, start: 2026-03-01}", "{plan: pro, start: 2025-12-01}"),
        [
            'catalog.yaml:78: customers[1].subscriptions[0].start: no version of plan "pro" is in effect on 2025-12-01 (the first starts 2026-01-01); name a version or start later'
        ],
    ),
    "end after start": (
        change("end: 2026-06-15", "end: 2026-01-15"),
        [
            "catalog.yaml:64: customers[0].subscriptions[0].end: must be after start (2026-01-15); end is exclusive"
        ],
    ),
    "subscriptions overlap": (
        change("end: 2026-06-15", "end: 2026-06-16"),
        [
            "catalog.yaml:72: customers[0].subscriptions[1]: overlaps subscriptions[0] (pro from 2026-01-15); a customer has at most one active subscription at a time, so end one where the next starts"
        ],
    ),
    "open-ended subscriptions overlap": (
        change("        end: 2026-06-15\n", ""),
        [
            "catalog.yaml:71: customers[0].subscriptions[1]: overlaps subscriptions[0] (pro from 2026-01-15); a customer has at most one active subscription at a time, so end one where the next starts"
        ],
    ),
    "one currency per customer": (
        change(
            "      - plan: pro\n        start: 2026-06-15",
            "      - plan: euro\n        start: 2026-06-15",
            change(
                "customers:\n",
                "  - {code: euro, name: Euro, versions: [{version: 1, effective_from: 2026-01-01, currency: EUR}]}\ncustomers:\n",
            ),
        ),
        [
            "catalog.yaml:73: customers[0].subscriptions[1]: is priced in EUR but subscriptions[0] in USD; a customer is invoiced in one currency, so use a plan priced in USD or a separate customer"
        ],
    ),
    "override an uncharged metric": (
        change("charges: {api_calls: {", "charges: {storage: {"),
        [
            'catalog.yaml:66: customers[0].subscriptions[0].overrides.charges.storage: metric "storage" is not charged by plan pro version 1; only its charges can be overridden'
        ],
    ),
    "override price rules": (
        change('unit_price: "0.0008"', "unit_price: 0.0008"),
        [
            'catalog.yaml:66: customers[0].subscriptions[0].overrides.charges.api_calls.unit_price: must be a decimal string such as "0.0008", not the float 0.0008'
        ],
    ),
    "override an unknown fee": (
        change("fixed_fees: {platform: {", "fixed_fees: {support: {"),
        [
            'catalog.yaml:67: customers[0].subscriptions[0].overrides.fixed_fees.support: fee "support" is not a fixed fee of plan pro version 1; only its fees can be overridden'
        ],
    ),
    "override minimum not negative": (
        change('minimum_amount: "0"', 'minimum_amount: "-10"'),
        [
            "catalog.yaml:68: customers[0].subscriptions[0].overrides.minimum_amount: must not be negative, got -10"
        ],
    ),
    "percentage at most 100": (
        change('value: "10"', 'value: "110"'),
        [
            "catalog.yaml:70: customers[0].subscriptions[0].discounts[0].value: must be at most 100, got 110"
        ],
    ),
    "discount type": (
        change("{type: fixed,", "{type: flat,"),
        [
            "catalog.yaml:71: customers[0].subscriptions[0].discounts[1].type: must be one of percentage, fixed, got 'flat'"
        ],
    ),
    "percentage takes a value": (
        change('{type: percentage, value: "10"', '{type: percentage, amount: "10"'),
        [
            "catalog.yaml:70: customers[0].subscriptions[0].discounts[0]: missing key 'value'",
            "catalog.yaml:70: customers[0].subscriptions[0].discounts[0].amount: unknown key 'amount' (allowed here: months, type, value)",
        ],
    ),
    "discount months positive": (
        change("months: 3", "months: 0"),
        [
            "catalog.yaml:70: customers[0].subscriptions[0].discounts[0].months: must be at least 1, got 0"
        ],
    ),
    # -- credit grants --
    "grant of an unknown customer": (
        change("customer: globex", "customer: hooli"),
        [
            'catalog.yaml:81: credit_grants[1].customer: unknown customer "hooli"; define it under customers'
        ],
    ),
    "grant amount positive": (
        change('amount: "10"', 'amount: "0"'),
        ["catalog.yaml:81: credit_grants[1].amount: must be greater than 0"],
    ),
    "grant amount not negative": (
        change('amount: "10"', 'amount: "-10"'),
        ["catalog.yaml:81: credit_grants[1].amount: must not be negative, got -10"],
    ),
    "grant expires after effective": (
        change("expires: 2026-12-31", "expires: 2025-12-31"),
        ["catalog.yaml:80: credit_grants[0].expires: must not be before effective (2026-01-01)"],
    ),
    "grant priority a whole number": (
        change("priority: 1", 'priority: "high"'),
        ["catalog.yaml:80: credit_grants[0].priority: must be a whole number, got 'high'"],
    ),
    "grant ids unique": (
        change("{id: g2,", "{id: g1,"),
        [
            "catalog.yaml:81: credit_grants[1].id: duplicate credit grant 'g1'; each must appear only once"
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_each_rule_reports_file_line_path_and_remedy(text, expected):
    assert problems(text) == expected


#: The line of the first alert rule appended to VALID.
RULE_LINE = VALID.count("\n") + 2


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            '{id: a, customer: hooli, feature: api_calls, thresholds: ["50%"]}',
            'alerts[0].customer: unknown customer "hooli"; define it under customers, or use "*"',
        ),
        (
            '{id: a, customer: "*", metric: api_calls, thresholds: ["50%"]}',
            "alerts[0].thresholds[0]: a percentage needs a feature's limit; metric takes a number",
        ),
        (
            '{id: a, customer: "*", feature: api_calls, thresholds: ["80%", "50%"]}',
            "alerts[0].thresholds[1]: must be above 80%, in the same unit",
        ),
        (
            '{id: a, customer: "*", amount: so_far, thresholds: ["1.00", "2.00"], '
            "spending_cap: true}",
            "alerts[0]: a spending cap has one threshold and no every: the cap",
        ),
        (
            '{id: a, customer: "*", feature: api_calls, thresholds: ["50%"], every: 100}',
            "alerts[0].every: must be in the unit of the thresholds (% or not)",
        ),
        (
            '{id: a, customer: "*", thresholds: ["1"]}',
            "alerts[0]: needs exactly one of feature, metric or amount to watch",
        ),
        (
            '{id: a, customer: "*", amount: total, thresholds: ["1"]}',
            "alerts[0].amount: must be one of so_far, projected, got 'total'",
        ),
        (
            '{id: a, customer: "*", amount: so_far, thresholds: [1.5]}',
            'alerts[0].thresholds[0]: must be a decimal string such as "1.5", not the float 1.5',
        ),
    ],
)
def test_alert_rules_are_validated(rule, expected):
    assert problems(f"{VALID}alerts:\n  - {rule}\n") == [f"catalog.yaml:{RULE_LINE}: {expected}"]


def test_valid_alert_rules_become_exact_values():
    rules = (
        '  - {id: calls, customer: "*", feature: api_calls, thresholds: ["50%", "100%"], '
        'every: "100%"}\n'
        '  - {id: cap, customer: acme, amount: projected, thresholds: ["99.50"], spending_cap: true}\n'
    )
    Path("catalog.yaml").write_text(f"{VALID}alerts:\n{rules}")
    calls, cap = validate_catalog_file("catalog.yaml").alerts
    assert (calls.target, calls.code, [t.label for t in calls.thresholds], calls.every.label) == (
        "feature",
        "api_calls",
        ["50%", "100%"],
        "100%",
    )
    assert (cap.customer, cap.code, cap.thresholds[0].value, cap.spending_cap) == (
        "acme",
        "projected",
        Decimal("99.50"),
        True,
    )


def test_every_problem_is_reported_at_once_in_file_order():
    text = change('amount: "49.00"', "amount: 49.00")
    text = change(
        'currency: USD\n        fixed_fees:\n          - {code: platform, amount: "59.00"}',
        'currency: XYZ\n        fixed_fees:\n          - {code: platform, amount: "59.00"}',
        text,
    )
    text = change(
        "    name: Globex\n", "    name: Globex\n    name: Globex Inc\n    vip: true\n", text
    )
    text = change("up_to: 100000", "up_to: 5000", text)
    text = change('{up_to: null, unit_price: "0.0005"}', '{up_to: 7, unit_price: "-1"}', text)
    text = change('amount: "10"', "amount: 10", text)
    assert problems(text) == [
        'catalog.yaml:23: plans[0].versions[0].fixed_fees[0].amount: must be a decimal string such as "49.00", not the float 49.00',
        "catalog.yaml:30: plans[0].versions[0].charges[0].tiers[1].up_to: tiers out of order: 5000 must be greater than the previous tier's up_to 10000",
        "catalog.yaml:31: plans[0].versions[0].charges[0].tiers[2].up_to: the last tier must have up_to: null",
        "catalog.yaml:31: plans[0].versions[0].charges[0].tiers[2].unit_price: must not be negative, got -1",
        "catalog.yaml:47: plans[0].versions[1].currency: must be one of USD, EUR, GBP, INR, JPY, got 'XYZ'",
        "catalog.yaml:77: customers[1].name: duplicate key; write each key once",
        "catalog.yaml:78: customers[1].vip: unknown key 'vip' (allowed here: gateway, id, name, subscriptions, tax_rate, timezone)",
        'catalog.yaml:83: credit_grants[1].amount: must be a decimal string: write "10" in quotes',
    ]


def test_a_broken_definition_is_not_reported_again_where_it_is_used():
    """The metric's own problem is the one to fix; its charges are not 'unknown metric'."""
    text = change("aggregation: max", "aggregation: maximum")
    assert problems(text) == [
        "catalog.yaml:13: metrics[2].aggregation: must be one of count, sum, count_unique, max, latest, time_weighted_sum, percentile, got 'maximum'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "catalog.yaml:1: (top level): must be a mapping with customers, metrics, plans"),
        (
            "- metrics\n",
            "catalog.yaml:1: (top level): must be a mapping with customers, metrics, plans",
        ),
        (
            "metrics: []\nplans: []\n  customers: []\n",
            "catalog.yaml:3: (document): not valid YAML: expected <block end>, but found '<block mapping start>' (while parsing a block mapping that starts on line 1)",
        ),
        (
            VALID.replace("event_name: completion", 'event_name: "completion'),
            "catalog.yaml:23: (document): not valid YAML: expected <block end>, but found '<scalar>' (while parsing a block mapping that starts on line 6)",
        ),
    ],
    ids=["empty", "a list", "syntax", "unclosed quote"],
)
def test_unreadable_documents_are_one_problem_with_its_line(text, expected):
    assert problems(text) == [expected]


def test_a_missing_file_is_a_problem():
    with pytest.raises(CatalogError) as error:
        validate_catalog_file("nowhere.yaml")
    assert error.value.problems == [
        "nowhere.yaml:1: (document): cannot read the file: No such file or directory"
    ]


def test_values_the_warehouse_cannot_hold_exactly_are_refused():
    text = change(
        'unit_price: "0.000002"', 'unit_price: "9999999999999999999.00000000000000000001"'
    )
    text = change("up_to: 10000,", 'up_to: "0.0000000000001",', text)
    text = change("priority: 1}", "priority: 99999999999}", text)
    assert problems(text) == [
        "catalog.yaml:29: plans[0].versions[0].charges[0].tiers[0].up_to: must have at most "
        "26 digits before the decimal point and 12 after it (what the warehouse stores "
        "exactly), got 0.0000000000001",
        "catalog.yaml:34: plans[0].versions[0].charges[1].unit_price: must have at most 18 "
        "digits before the decimal point and 20 after it (what the warehouse stores exactly), "
        "got 9999999999999999999.00000000000000000001",
        "catalog.yaml:80: credit_grants[0].priority: must be between -2147483648 and "
        "2147483647, got 99999999999",
    ]


def test_an_alias_bomb_is_refused_before_it_is_expanded():
    rows = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    assert problems("\n".join(rows) + "\n") == [
        "catalog.yaml:1: (document): its aliases (*name) expand to more than 100,000 "
        "repeated values; write the values out, or use fewer aliases"
    ]


def test_subscription_ids_of_different_customers_and_plans_never_collide():
    text = change("  - code: pro\n    name: Pro\n", '  - code: "p:q"\n    name: Pro\n')
    text = text.replace("plan: pro", 'plan: "p:q"')
    text = change("  - id: globex", '  - id: "acme:p"', text)
    text = change("customer: globex", 'customer: "acme:p"', text)
    ids = [s.id for s in (problems_free(text)).subscriptions]
    assert ids == ["acme:p%3Aq:2026-01-15", "acme:p%3Aq:2026-06-15", "acme%3Ap:p%3Aq:2026-03-01"]


def problems_free(text: str):
    Path("catalog.yaml").write_text(text)
    return validate_catalog_file("catalog.yaml")
