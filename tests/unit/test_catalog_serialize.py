"""The applied catalog's JSON: its exact text is hashed into stored digests, so it must not
drift, and reading it back must give the validated catalog again."""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal

from billing_dagster.catalog.gc_pause import gc_paused
from billing_dagster.catalog.model import Charge, FixedFee, PlanVersion, Price, Tier
from billing_dagster.catalog.serialize import canonical_json, catalog_from_json
from billing_dagster.catalog.validate import validate_catalog_file
from tests.catalogs import VALID


def test_a_plan_version_keeps_its_canonical_text():
    """Stored plan versions are compared by the digest of this text: any change to it
    would make every stored version look modified."""
    tiers = (Tier(Decimal(100), Decimal("0.01")), Tier(None, Decimal("0.005"), Decimal("1.50")))
    version = PlanVersion(
        "pro",
        2,
        date(2026, 6, 1),
        "USD",
        fixed_fees=(FixedFee("platform", Decimal("49.00")),),
        charges=(Charge("api_calls", Price("graduated", tiers=tiers)),),
    )
    assert canonical_json(version) == (
        '{"charges":[{"group_prices":{},"metric":"api_calls","price":{"free_units":"0",'
        '"model":"graduated","package_price":null,"package_size":null,"tiers":['
        '{"flat_fee":"0","unit_price":"0.01","up_to":"100"},'
        '{"flat_fee":"1.50","unit_price":"0.005","up_to":null}],"unit_price":null}}],'
        '"currency":"USD","effective_from":"2026-06-01","entitlements":[],'
        '"fixed_fees":[{"amount":"49.00","code":"platform"}],"minimum_amount":null,'
        '"plan":"pro","version":2}'
    )


def test_reading_the_json_back_gives_the_validated_catalog(tmp_path):
    (tmp_path / "catalog.yaml").write_text(VALID)
    catalog = validate_catalog_file(tmp_path / "catalog.yaml")
    text = canonical_json(catalog)
    back = catalog_from_json(text)
    assert back == catalog
    assert repr(back) == repr(catalog)  # the same types too: Decimal, date, tuple, None
    assert canonical_json(back) == text


def test_the_collector_pause_restores_the_collector_as_it_found_it():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
