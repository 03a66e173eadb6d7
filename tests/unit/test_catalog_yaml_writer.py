"""The catalog written back as YAML reads back as the same catalog, every part of it; what
would not is never written (catalog/yaml_writer.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from billing_dagster.catalog.serialize import canonical_json
from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.catalog.yaml_writer import UnwritableCatalog, write_catalog_yaml
from tests.catalogs import VALID

EVERY_PART = f"""{VALID}\
quota_grants:
  - {{id: q1, customer: acme, feature: api_calls, units: "2.5", effective: 2026-02-01, expires: null, priority: 2}}
alerts:
  - {{id: calls, customer: "*", feature: api_calls, thresholds: ["50%", "100%"], every: "100%"}}
  - {{id: cap, customer: acme, amount: projected, thresholds: ["99.50"], spending_cap: true}}
  - {{id: tokens, customer: globex, metric: tokens, thresholds: [1000]}}
partners:
  - {{id: r1, name: R, share: "0.125", basis: total, customers: [{{id: acme, from: 2026-01-01, to: 2026-06-30}}]}}
pii_properties: [user_email, "ip address"]
"""


def test_every_part_of_a_catalog_reads_back_the_same(tmp_path):
    source = tmp_path / "catalog.yaml"
    text = (
        EVERY_PART.replace(
            "          - {feature: sso, enabled: true}\n",
            "          - {feature: sso, enabled: true}\n"
            "          - {feature: support, config: {tier: gold, seats: 3}}\n"
            "          - {feature: bursts, metric: api_calls, limit: 10, enforcement: hard, period: day}\n"
            "          - {feature: tokens, limit: null}\n",
        )
        .replace(
            "plans:\n",
            "  - {code: disk, event_name: disk_reported, aggregation: time_weighted_sum, "
            "property: gb, group_by: region, unit: hour}\n"
            "  - {code: p95, event_name: bytes_sent, aggregation: percentile, property: bytes, "
            'percentile: "99.5", bucket: 1h}\nplans:\n',
            1,
        )
        .replace(
            "    name: Globex\n",
            '    name: Globex\n    gateway: stripe\n    tax_rate: "0.0000001"\n'
            "    timezone: Australia/Lord_Howe\n",
        )
        .replace(
            "        currency: USD\n",
            "        currency: USD\n        block_on: [dispute_lost]\n",
            1,
        )
        .replace("    name: Pro\n", "    name: Pro\n    product: api\n")
        .replace(
            "expires: 2026-12-31, priority: 1}", "expires: 2026-12-31, priority: 1, product: api}"
        )
    )
    source.write_text(text)
    catalog = validate_catalog_file(source, "stripe")
    assert catalog.alerts and catalog.partners and catalog.quota_grants
    assert catalog.plans[0].product == catalog.credit_grants[0].product == "api"
    assert catalog.metrics[-2].unit == "hour"
    assert [c.timezone for c in catalog.customers] == ["UTC", "Australia/Lord_Howe"]
    assert (catalog.metrics[-1].percentile, catalog.metrics[-1].bucket) == (Decimal("99.5"), "1h")
    written = tmp_path / "written.yaml"

    write_catalog_yaml(catalog, written, "# written back\n", "stripe")

    assert written.read_text().startswith("# written back\nmetrics:\n")
    assert canonical_json(validate_catalog_file(written, "stripe")) == canonical_json(catalog)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml", "written.yaml"]


def test_a_catalog_that_would_not_read_back_is_not_written(tmp_path):
    source, written = tmp_path / "catalog.yaml", tmp_path / "written.yaml"
    source.write_text(VALID)
    catalog = validate_catalog_file(source)
    broken = replace(catalog, customers=(replace(catalog.customers[0], tax_rate=Decimal(2)),))
    with pytest.raises(UnwritableCatalog) as error:
        write_catalog_yaml(broken, written, "", "file")
    assert "customers[0].tax_rate" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml"]
