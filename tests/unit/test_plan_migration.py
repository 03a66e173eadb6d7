"""Plan migrations, the pure part: who moves, what their subscriptions become, and every
refusal with its message (catalog/migration.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing_dagster.catalog.migration import (
    Migration,
    MigrationRefused,
    RecordedMigration,
    migrate,
    undone,
)
from billing_dagster.catalog.model import Discount
from billing_dagster.catalog.validate import validate_catalog_file
from billing_dagster.invoicing.assemble import active_days, months_since_start

CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
  - {code: seats, event_name: seat, aggregation: max, property: n}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "31.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "0.01"}]
      - version: 2
        effective_from: 2026-03-01
        currency: USD
        fixed_fees: [{code: platform, amount: "62.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "0.02"}]
      - version: 3
        effective_from: 2026-06-01
        currency: USD
        charges: [{metric: seats, model: per_unit, unit_price: "1"}]
      - version: 4
        effective_from: 2026-01-01
        currency: EUR
  - code: team
    name: Team
    versions:
      - {version: 1, effective_from: 2026-01-01, currency: USD}
customers:
  - id: acme
    name: Acme
    subscriptions:
      - plan: pro
        version: 1
        start: 2026-01-15
        overrides: {fixed_fees: {platform: {amount: "20.00"}}}
        discounts:
          - {type: percentage, value: "10", months: 3}
          - {type: percentage, value: "5", months: 1}
          - {type: fixed, amount: "1.00"}
  - id: globex
    name: Globex
    subscriptions:
      - {plan: pro, version: 1, start: 2026-02-01, end: 2026-04-01}
      - {plan: team, start: 2026-04-01}
  - id: initech
    name: Initech
    subscriptions:
      - {plan: team, start: 2026-01-01}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(CATALOG)
    return validate_catalog_file(path)


def to_v2(customers=None, on=date(2026, 3, 16)) -> Migration:
    return Migration("pro", 1, 2, on, customers)


def subscriptions(catalog, customer):
    return next(c for c in catalog.customers if c.id == customer).subscriptions


def test_each_customer_on_the_version_moves_on_the_date(catalog):
    plan = migrate(catalog, to_v2(), None)
    assert plan.moved == ("acme", "globex") and plan.already_moved == ()
    old, new = subscriptions(plan.catalog, "acme")
    assert (old.version, old.start, old.end) == (1, date(2026, 1, 15), date(2026, 3, 16))
    assert (new.id, new.version, new.start, new.end) == (
        "acme:pro:2026-03-16",
        2,
        date(2026, 3, 16),
        None,
    )
    assert new.overrides == old.overrides
    # globex keeps its end and what follows it
    assert [(s.plan, s.version, s.start, s.end) for s in subscriptions(plan.catalog, "globex")] == [
        ("pro", 1, date(2026, 2, 1), date(2026, 3, 16)),
        ("pro", 2, date(2026, 3, 16), date(2026, 4, 1)),
        ("team", 1, date(2026, 4, 1), None),
    ]
    assert subscriptions(plan.catalog, "initech") == subscriptions(catalog, "initech")
    # fixed fees then prorate by day on each side: 15 and 16 of March's 31 days
    assert [active_days(s, "2026-03") for s in subscriptions(plan.catalog, "acme")] == [15, 16]


def test_discounts_limited_in_months_keep_their_end(catalog):
    """10% for 3 months from January (Jan-Mar) and 5% for January only: after a move in
    March the 10% is left for March, the 5% is over; the fixed discount is forever."""
    old, new = subscriptions(migrate(catalog, to_v2(), None).catalog, "acme")
    assert new.discounts == (
        Discount("percentage", Decimal(10), 1),
        Discount("fixed", Decimal(1), None),
    )
    for period in ("2026-03", "2026-04"):
        before = [
            d
            for d in old.discounts
            if d.months is None or months_since_start(old, period) < d.months
        ]
        after = [
            d
            for d in new.discounts
            if d.months is None or months_since_start(new, period) < d.months
        ]
        assert [(d.type, d.value) for d in before] == [(d.type, d.value) for d in after]


def test_a_subscription_starting_on_the_date_moves_whole(catalog):
    """No subscription of no days: the one that starts on the date changes version."""
    moved = migrate(catalog, to_v2(("acme",)), None).catalog
    back = migrate(moved, Migration("pro", 2, 1, date(2026, 3, 16), ("acme",)), None).catalog
    first, second = subscriptions(back, "acme")
    assert (second.id, second.version, second.start, second.end) == (
        "acme:pro:2026-03-16",
        1,
        date(2026, 3, 16),
        None,
    )
    assert first.end == date(2026, 3, 16)


def test_only_the_listed_customers_move(catalog):
    plan = migrate(catalog, to_v2(("globex",)), None)
    assert plan.moved == ("globex",)
    assert subscriptions(plan.catalog, "acme") == subscriptions(catalog, "acme")


def test_running_it_again_moves_nobody(catalog):
    once = migrate(catalog, to_v2(), None)
    again = migrate(once.catalog, to_v2(), None)
    assert (again.moved, again.already_moved) == ((), ("acme", "globex"))
    assert again.catalog == once.catalog
    listed = migrate(once.catalog, to_v2(("acme",)), None)
    assert (listed.moved, listed.already_moved) == ((), ("acme",))


@pytest.mark.parametrize(
    ("migration", "finalized", "message"),
    [
        (Migration("gold", 1, 2, date(2026, 3, 16)), None, '--plan: unknown plan "gold"'),
        (
            Migration("pro", 7, 2, date(2026, 3, 16)),
            None,
            '--from-version: plan "pro" has no version 7 (it has 1, 2, 3, 4)',
        ),
        (
            Migration("pro", 1, 9, date(2026, 3, 16)),
            None,
            '--to-version: plan "pro" has no version 9 (it has 1, 2, 3, 4)',
        ),
        (
            Migration("pro", 1, 1, date(2026, 3, 16)),
            None,
            "--to-version: must differ from --from-version",
        ),
        (
            Migration("pro", 1, 2, date(2026, 2, 16)),
            None,
            '--to-version: plan "pro" version 2 is in effect from 2026-03-01, after --effective '
            "2026-02-16; migrate on or after that date",
        ),
        (
            Migration("pro", 1, 4, date(2026, 3, 16)),
            None,
            '--to-version: plan "pro" version 4 is priced in EUR but version 1 in USD; a '
            "customer is invoiced in one currency",
        ),
        (
            to_v2(),
            "2026-03",
            "--effective 2026-03-16 is inside or before the finalized period 2026-03, whose "
            "invoices never change; choose a date on or after 2026-04-01",
        ),
        (
            to_v2(("initech",)),
            None,
            '--customers: customer "initech" is not on plan "pro" version 1 on 2026-03-16 '
            "(its subscription that day is on team version 1)",
        ),
        (to_v2(("nobody",)), None, '--customers: unknown customer "nobody"'),
        (
            Migration("pro", 2, 1, date(2026, 5, 1)),
            None,
            'no customer is on plan "pro" version 2 on 2026-05-01: there is nothing to migrate',
        ),
        (
            Migration("pro", 1, 3, date(2026, 6, 1), ("acme",)),
            None,
            'customer "acme" overrides fixed fee "platform", which plan "pro" version 3 does '
            "not have; change its overrides in the catalog first, or leave it out with "
            "--customers",
        ),
    ],
)
def test_refusals(catalog, migration, finalized, message):
    with pytest.raises(MigrationRefused) as refused:
        migrate(catalog, migration, finalized)
    assert str(refused.value) == message


def test_a_date_after_the_last_finalized_period_is_accepted(catalog):
    assert migrate(catalog, to_v2(), "2026-02").moved == ("acme", "globex")


def test_a_catalog_file_from_before_the_migration_would_undo_it(catalog):
    plan = migrate(catalog, to_v2(("acme",)), None)
    recorded = [RecordedMigration(to_v2(("acme",)), ("acme",), 5)]
    assert undone(catalog, plan.catalog, recorded) == [
        'customers[0].subscriptions[0]: customer "acme" was moved from plan "pro" version 1 '
        "to version 2 on 2026-03-16 by `billing migrate` (catalog version 5), but this file "
        "still has it on version 1 that day and would undo the migration; end this "
        "subscription on 2026-03-16 and add one with plan: pro, version: 2, start: "
        "2026-03-16 (docs/invoicing.md, Plan migrations)"
    ]
    assert undone(plan.catalog, plan.catalog, recorded) == []
    # migrated back since: the file that has it on version 1 is what is in force
    assert undone(catalog, catalog, recorded) == []


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(date(2026, 1, 1), date(2026, 6, 30)),
    length=st.one_of(st.none(), st.integers(1, 200)),
    offset=st.integers(0, 200),
    months=st.one_of(st.none(), st.integers(1, 12)),
)
def test_every_day_is_billed_once_on_one_version(catalog, start, length, offset, months):
    """Whatever the window and date: the days before the date stay on the old version, the
    days from it are on the new, none lost or doubled; in every period, each part has the
    discount exactly when the original subscription had it."""
    end = start + timedelta(days=length) if length else None
    day = max(start + timedelta(days=offset), date(2026, 3, 1))
    assume(end is None or day < end)
    original = replace(
        subscriptions(catalog, "initech")[0],
        id=f"initech:pro:{start}",
        plan="pro",
        version=1,
        start=start,
        end=end,
        discounts=(Discount("percentage", Decimal(10), months),),
    )
    customers = tuple(
        replace(c, subscriptions=(original,)) if c.id == "initech" else c for c in catalog.customers
    )
    after = migrate(replace(catalog, customers=customers), to_v2(("initech",), day), None)
    parts = subscriptions(after.catalog, "initech")
    assert [(p.version, p.end) for p in parts] == [(1, day), (2, end)][-len(parts) :]
    for index in range(24):
        period = f"{2026 + index // 12}-{index % 12 + 1:02d}"
        assert sum(active_days(p, period) for p in parts) == active_days(original, period)
        for part in parts:
            if active_days(part, period):
                assert discounted(part, period) == discounted(original, period)


def discounted(subscription, period: str) -> bool:
    return any(
        d.months is None or months_since_start(subscription, period) < d.months
        for d in subscription.discounts
    )
