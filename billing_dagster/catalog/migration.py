"""A plan migration: customers moved from one version of a plan to another on a date.

Pure: the catalog in force and the migration in, the migrated catalog out (docs/invoicing.md,
"Plan migrations"). Each affected subscription ends on the effective date and a new one on
the target version starts there, so the period of that date bills both, each for its own
days (CONTRACT.md §3). The customer keeps its overrides and discounts; a discount limited
to N months keeps its end, counted from the original start as a coupon's duration is kept
across a plan change, so the new subscription carries what is left of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from billing_dagster.catalog.model import Catalog, Discount, PlanVersion, Subscription
from billing_dagster.catalog.model import subscription_id as new_subscription_id
from billing_dagster.periods import period_bounds


class MigrationRefused(Exception):
    """The migration cannot be made as asked; nothing was changed."""


@dataclass(frozen=True)
class Migration:
    plan: str
    from_version: int
    to_version: int
    effective: date
    #: the customers to move; None: every customer on the version on the effective date
    customers: tuple[str, ...] | None = None

    def describe(self) -> str:
        return (
            f'plan "{self.plan}" version {self.from_version} -> {self.to_version} '
            f"on {self.effective.isoformat()}"
        )


@dataclass(frozen=True)
class MigrationPlan:
    """The migrated catalog, who was moved, and who had been moved already (a rerun)."""

    catalog: Catalog
    moved: tuple[str, ...]
    already_moved: tuple[str, ...]


def migrate(catalog: Catalog, migration: Migration, last_finalized: str | None) -> MigrationPlan:
    """`catalog` with the migration's customers moved; refused when the migration names
    something unknown, could not be priced, or would change a finalized period's invoices."""
    target = _check_versions(catalog, migration)
    if last_finalized and migration.effective < period_bounds(last_finalized)[1]:
        raise MigrationRefused(
            f"--effective {migration.effective.isoformat()} is inside or before the finalized "
            f"period {last_finalized}, whose invoices never change; choose a date on or after "
            f"{period_bounds(last_finalized)[1].isoformat()}"
        )
    on_date = {c.id: _active_on(catalog, c.subscriptions, migration) for c in catalog.customers}
    chosen = dict.fromkeys(migration.customers if migration.customers is not None else on_date)
    moved, already = [], []
    for customer in chosen:
        if customer not in on_date:
            raise MigrationRefused(f'--customers: unknown customer "{customer}"')
        active = on_date[customer]
        if active and (active.plan, active.version) == (migration.plan, migration.from_version):
            _check_overrides(active, target)
            moved.append(customer)
        elif active and _moved_already(active, migration):
            already.append(customer)
        elif migration.customers is not None:
            now = f"is on {active.plan} version {active.version}" if active else "has none"
            raise MigrationRefused(
                f'--customers: customer "{customer}" is not on plan "{migration.plan}" '
                f"version {migration.from_version} on {migration.effective.isoformat()} "
                f"(its subscription that day {now})"
            )
    if not moved and not already:
        raise MigrationRefused(
            f'no customer is on plan "{migration.plan}" version {migration.from_version} on '
            f"{migration.effective.isoformat()}: there is nothing to migrate"
        )
    moving = set(moved)
    customers = tuple(
        replace(c, subscriptions=_moved(catalog, c.subscriptions, migration))
        if c.id in moving
        else c
        for c in catalog.customers
    )
    return MigrationPlan(replace(catalog, customers=customers), tuple(moved), tuple(already))


def _check_versions(catalog: Catalog, migration: Migration) -> PlanVersion:
    """The target version, once both versions are known and the target may be moved to."""
    plan = next((p for p in catalog.plans if p.code == migration.plan), None)
    if plan is None:
        raise MigrationRefused(f'--plan: unknown plan "{migration.plan}"')
    versions = {v.version: v for v in plan.versions}
    known = ", ".join(str(v) for v in sorted(versions))
    for option, number in (
        ("--from-version", migration.from_version),
        ("--to-version", migration.to_version),
    ):
        if number not in versions:
            raise MigrationRefused(
                f'{option}: plan "{plan.code}" has no version {number} (it has {known})'
            )
    if migration.from_version == migration.to_version:
        raise MigrationRefused("--to-version: must differ from --from-version")
    source, target = versions[migration.from_version], versions[migration.to_version]
    if target.effective_from > migration.effective:
        raise MigrationRefused(
            f'--to-version: plan "{plan.code}" version {target.version} is in effect from '
            f"{target.effective_from.isoformat()}, after --effective "
            f"{migration.effective.isoformat()}; migrate on or after that date"
        )
    if target.currency != source.currency:
        raise MigrationRefused(
            f'--to-version: plan "{plan.code}" version {target.version} is priced in '
            f"{target.currency} but version {source.version} in {source.currency}; a customer "
            f"is invoiced in one currency"
        )
    return target


def _check_overrides(subscription: Subscription, target: PlanVersion) -> None:
    """The overrides the customer keeps must name charges and fees the target has."""
    charged = {c.metric for c in target.charges}
    fees = {f.code for f in target.fixed_fees}
    missing = [f'charge "{m}"' for m in subscription.overrides.charges if m not in charged]
    missing += [f'fixed fee "{f}"' for f in subscription.overrides.fixed_fees if f not in fees]
    if missing:
        raise MigrationRefused(
            f'customer "{subscription.customer}" overrides {", ".join(missing)}, which plan '
            f'"{target.plan}" version {target.version} does not have; change its overrides '
            f"in the catalog first, or leave it out with --customers"
        )


def _moved_already(subscription: Subscription, migration: Migration) -> bool:
    """Whether the subscription is what the migration makes: on the target from the date."""
    target = (migration.plan, migration.to_version, migration.effective)
    return (subscription.plan, subscription.version, subscription.start) == target


def _active_on(
    catalog: Catalog, subscriptions: tuple[Subscription, ...], migration: Migration
) -> Subscription | None:
    """The subscription active on the date to the migrated plan's product: a customer may
    hold one of each product at once, and the others are not the migration's."""
    day = migration.effective
    product = catalog.product_of(migration.plan)
    return next(
        (
            s
            for s in subscriptions
            if s.start <= day < (s.end or date.max) and catalog.product_of(s.plan) == product
        ),
        None,
    )


def _moved(
    catalog: Catalog, subscriptions: tuple[Subscription, ...], migration: Migration
) -> tuple[Subscription, ...]:
    """The customer's subscriptions with the one active on the date split there (or, when it
    starts that day, moved whole: a subscription of no day is not one)."""
    active = _active_on(catalog, subscriptions, migration)
    day = migration.effective
    successor = replace(
        active,
        id=new_subscription_id(active.customer, active.plan, day),
        version=migration.to_version,
        start=day,
        discounts=_remaining_discounts(active, day),
    )
    if active.start == day:
        return tuple(successor if s is active else s for s in subscriptions)
    ended = replace(active, end=day)
    at = subscriptions.index(active)
    return (*subscriptions[:at], ended, successor, *subscriptions[at + 1 :])


def _remaining_discounts(subscription: Subscription, day: date) -> tuple[Discount, ...]:
    """Its discounts with `months` counted from `day`'s month, the rest of those counted
    from the original start; those already over are dropped."""
    elapsed = (day.year - subscription.start.year) * 12 + day.month - subscription.start.month
    kept = []
    for discount in subscription.discounts:
        if discount.months is None:
            kept.append(discount)
        elif discount.months > elapsed:
            kept.append(replace(discount, months=discount.months - elapsed))
    return tuple(kept)


@dataclass(frozen=True)
class RecordedMigration:
    """A migration `billing migrate` made: the customers it moved and the version it made."""

    migration: Migration
    moved: tuple[str, ...]
    catalog_version: int


def undone(candidate: Catalog, in_force: Catalog, recorded: list[RecordedMigration]) -> list[str]:
    """Where `candidate` (a catalog file about to be applied) puts a migrated customer back
    on the version it was moved from, while the catalog in force still has it moved: a file
    written before the migration, which would undo it silently."""
    problems = []
    for record in recorded:
        migration = record.migration
        source = (migration.plan, migration.from_version)
        for customer in record.moved:
            now = _subscriptions(in_force, customer)
            active = now and _active_on(in_force, now, migration)
            if not active or (active.plan, active.version) != (source[0], migration.to_version):
                continue  # moved again since, by another migration
            for i, c in enumerate(candidate.customers):
                subscription = c.id == customer and _active_on(
                    candidate, c.subscriptions, migration
                )
                if subscription and (subscription.plan, subscription.version) == source:
                    j = c.subscriptions.index(subscription)
                    day = migration.effective.isoformat()
                    problems.append(
                        f'customers[{i}].subscriptions[{j}]: customer "{customer}" was moved '
                        f'from plan "{migration.plan}" version {migration.from_version} to '
                        f"version {migration.to_version} on {day} by `billing migrate` "
                        f"(catalog version {record.catalog_version}), but this file still has "
                        f"it on version {migration.from_version} that day and would undo the "
                        f"migration; end this subscription on {day} and add one with plan: "
                        f"{migration.plan}, version: {migration.to_version}, start: {day} "
                        f"(docs/invoicing.md, Plan migrations)"
                    )
    return problems


def _subscriptions(catalog: Catalog, customer: str) -> tuple[Subscription, ...]:
    return next((c.subscriptions for c in catalog.customers if c.id == customer), ())
