"""A plan's `block_on`: validated in the catalog, kept out of the digest of versions that do
not say it, and the pure rules that turn a lost dispute or a past-due invoice into denied
hard-limited features."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from billing_dagster.catalog.serialize import canonical_json, catalog_from_json
from billing_dagster.catalog.validate import CatalogError, validate_catalog_file
from billing_dagster.entitlements.answers import answer
from billing_dagster.entitlements.blocks import block_reason, is_past_due
from billing_dagster.entitlements.exact import Feature
from tests.catalogs import calls_catalog

CATALOG = calls_catalog(["{id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}"])


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _with_block_on(block_on: str):
    text = CATALOG.replace("currency: USD\n", f"currency: USD\n        block_on: {block_on}\n")
    Path("catalog.yaml").write_text(text)
    return validate_catalog_file("catalog.yaml")


def _problems(block_on: str) -> list[str]:
    with pytest.raises(CatalogError) as refused:
        _with_block_on(block_on)
    return refused.value.problems


def test_block_on_names_the_conditions_of_a_plan_version():
    catalog = _with_block_on("[dispute_lost, past_due]")
    assert catalog.plan_version("pro", 1).block_on == ("dispute_lost", "past_due")
    assert catalog_from_json(canonical_json(catalog)) == catalog
    assert '"block_on":["dispute_lost","past_due"]' in canonical_json(catalog.plans[0].versions[0])


def test_a_version_without_block_on_hashes_as_before():
    Path("catalog.yaml").write_text(CATALOG)
    version = validate_catalog_file("catalog.yaml").plan_version("pro", 1)
    assert version.block_on == ()
    assert "block_on" not in canonical_json(version)


@pytest.mark.parametrize(
    ("block_on", "expected"),
    [
        (
            "[past_due, late]",
            "catalog.yaml:10: plans[0].versions[0].block_on[1]: must be one of past_due, "
            "dispute_lost, got 'late'",
        ),
        (
            "[past_due, past_due]",
            "catalog.yaml:10: plans[0].versions[0].block_on[1]: duplicate condition 'past_due'; "
            "each must appear only once",
        ),
        ("past_due", "catalog.yaml:10: plans[0].versions[0].block_on: must be a list"),
    ],
)
def test_block_on_is_validated(block_on, expected):
    assert _problems(block_on) == [expected]


def test_an_invoice_is_past_due_when_uncollectible_or_open_after_its_terms():
    sent = date(2026, 11, 3)
    assert not is_past_due("open", sent, date(2026, 12, 3))  # due on the 30th day after
    assert is_past_due("open", sent, date(2026, 12, 4))
    assert is_past_due("uncollectible", sent, sent)
    assert not is_past_due("paid", sent, date(2027, 6, 1))
    assert not is_past_due("void", sent, date(2027, 6, 1))


def test_the_plan_blocks_only_on_what_it_names_a_lost_dispute_first():
    both = {"past_due", "dispute_lost"}
    assert block_reason(("past_due", "dispute_lost"), both) == "blocked_dispute_lost"
    assert block_reason(("past_due",), both) == "blocked_past_due"
    assert block_reason(("dispute_lost",), {"past_due"}) is None
    assert block_reason((), both) is None


def _metered(enforcement: str) -> Feature:
    return Feature(
        "acme", "acme:pro:2026-01-01", "calls", "metered", "calls", Decimal(1000), enforcement,
        "billing_period", None, None,
    )  # fmt: skip


def _answer(enforcement: str, **state) -> dict:
    now = datetime(2026, 12, 10, tzinfo=UTC)
    window = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return answer(
        "acme", "calls", _metered(enforcement), True, Decimal(10), Decimal(1), window, [], None,
        now, **state,
    )  # fmt: skip


def test_a_blocked_customer_loses_hard_limited_features_and_keeps_soft_ones():
    hard = _answer("hard", blocked="blocked_dispute_lost")
    assert (hard["has_access"], hard["reason"], hard["remaining"]) == (
        False,
        "blocked_dispute_lost",
        "990",
    )
    soft = _answer("soft", blocked="blocked_past_due")
    assert (soft["has_access"], soft["reason"]) == (True, "ok")
    capped = _answer("hard", blocked="blocked_past_due", capped=True)
    assert (capped["has_access"], capped["reason"]) == (False, "blocked_past_due")
    assert _answer("hard")["has_access"] is True
