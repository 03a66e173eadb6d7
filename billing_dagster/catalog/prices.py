"""The price of every charge of every subscription, overrides applied, as rows for SQL rating.

Rating is SQL (dbt `fct_rated_usage_tiers`), so each price becomes tiers a query can join:
`graduated` and `volume` keep their tiers; `per_unit` is one unbounded tier; `package` is
one tier whose unit price is the package price, with its size and free units. A charge's
default price has `is_group_price = False`; each of its `group_prices` is a row of its own
(docs/invoicing.md: an override replaces the default price, group prices still apply).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from billing_dagster.catalog.model import Catalog, Price, Subscription


class ChargePrice(NamedTuple):
    subscription_id: str
    metric: str
    charge_order: int
    is_group_price: bool
    group_value: str  # "" for the default price
    model: str


class PriceTier(NamedTuple):
    subscription_id: str
    metric: str
    is_group_price: bool
    group_value: str
    tier: int  # 1-based
    lower_bound: Decimal  # units above this bound fall in the tier
    upper_bound: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal
    package_size: Decimal | None
    free_units: Decimal


def subscription_prices(catalog: Catalog) -> tuple[list[ChargePrice], list[PriceTier]]:
    prices: list[ChargePrice] = []
    tiers: list[PriceTier] = []
    for subscription in catalog.subscriptions:
        for order, metric, is_group, group, price in _charge_prices(catalog, subscription):
            key = (subscription.id, metric, is_group, group)
            prices.append(ChargePrice(subscription.id, metric, order, is_group, group, price.model))
            tiers += [PriceTier(*key, *tier) for tier in price_tiers(price)]
    return prices, tiers


def _charge_prices(catalog: Catalog, subscription: Subscription):
    version = catalog.plan_version(subscription.plan, subscription.version)
    for order, charge in enumerate(version.charges, start=1):
        default = subscription.overrides.charges.get(charge.metric, charge.price)
        yield order, charge.metric, False, "", default
        for group, price in charge.group_prices.items():
            yield order, charge.metric, True, group, price


def price_tiers(price: Price) -> list[tuple]:
    """(tier, lower, upper, unit price, flat fee, package size, free units) per tier."""
    zero = Decimal(0)
    if price.model == "per_unit":
        return [(1, zero, None, price.unit_price, zero, None, zero)]
    if price.model == "package":
        return [(1, zero, None, price.package_price, zero, price.package_size, price.free_units)]
    rows, lower = [], zero
    for number, tier in enumerate(price.tiers, start=1):
        rows.append((number, lower, tier.up_to, tier.unit_price, tier.flat_fee, None, zero))
        lower = tier.up_to if tier.up_to is not None else lower
    return rows
