"""The validated catalog as immutable Python values.

Everything money-like is a `Decimal`; dates are `datetime.date` on the customer's calendar
(its `timezone`, UTC by default). The validator
(`validate.py`) is the only producer of these objects, so code that receives a `Catalog`
may rely on every rule of CONTRACT.md §2 holding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

Aggregation = Literal[
    "count", "sum", "count_unique", "max", "latest", "time_weighted_sum", "percentile"
]
#: What a time-weighted quantity counts a value held for (docs/invoicing.md).
TimeUnit = Literal["hour", "day"]
ChargeModel = Literal["per_unit", "graduated", "volume", "package"]

EntitlementPeriod = Literal["billing_period", "day", "hour"]

#: What may deny a plan's hard-limited features (`block_on`, docs/gateways.md, Disputes): an
#: invoice past due, or a payment dispute lost.
BLOCK_CONDITIONS = ("past_due", "dispute_lost")
BlockCondition = Literal["past_due", "dispute_lost"]


#: Metadata of a field added after catalogs were first stored: left out of the canonical
#: JSON while it holds its default (serialize.py), so what was applied before hashes the
#: same and plan versions stay immutable.
ADDED = {"added": True}


#: Decimal places of each supported currency's minor unit (CONTRACT.md §3).
CURRENCY_MINOR_UNITS: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "INR": 2, "JPY": 0}


@dataclass(frozen=True)
class Metric:
    code: str
    event_name: str
    aggregation: Aggregation
    property: str | None = None
    #: property name -> accepted values, compared as text
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_by: str | None = None
    #: time_weighted_sum only: the value is counted per hour or per day it is held
    unit: TimeUnit | None = field(default=None, metadata=ADDED)
    #: percentile only: which percentile (0 < p <= 100) of the per-bucket sums
    percentile: Decimal | None = field(default=None, metadata=ADDED)
    #: percentile only: the buckets' length, "<minutes>m" or "<hours>h", dividing a day
    bucket: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # None = unbounded (only the last tier)
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class Price:
    """How a quantity is turned into an amount: one charge model and its parameters."""

    model: ChargeModel
    unit_price: Decimal | None = None  # per_unit
    tiers: tuple[Tier, ...] = ()  # graduated, volume
    package_size: Decimal | None = None  # package
    package_price: Decimal | None = None  # package
    free_units: Decimal = Decimal(0)  # package


@dataclass(frozen=True)
class Charge:
    metric: str
    price: Price
    #: group value -> price used for that group instead of `price`
    group_prices: dict[str, Price] = field(default_factory=dict)


@dataclass(frozen=True)
class FixedFee:
    code: str
    amount: Decimal


@dataclass(frozen=True)
class Entitlement:
    """A feature of a plan: `metered` (usage of a metric against a limit per period; `limit`
    None is explicitly unlimited), `boolean` (`enabled`) or `static` (a JSON `config`)."""

    feature: str
    limit: Decimal | None = None
    enforcement: Literal["soft", "hard"] | None = None
    enabled: bool | None = None
    metric: str | None = field(default=None, metadata=ADDED)  # None: the feature's code
    period: EntitlementPeriod = field(default="billing_period", metadata=ADDED)
    config: dict[str, Any] | None = field(default=None, metadata=ADDED)

    @property
    def kind(self) -> Literal["metered", "boolean", "static"]:
        if self.enabled is not None:
            return "boolean"
        return "static" if self.config is not None else "metered"

    @property
    def metric_code(self) -> str:
        return self.metric or self.feature


@dataclass(frozen=True)
class PlanVersion:
    plan: str
    version: int
    effective_from: date
    currency: str
    fixed_fees: tuple[FixedFee, ...] = ()
    minimum_amount: Decimal | None = None
    charges: tuple[Charge, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()
    #: While one of these holds for a customer, its hard-limited metered features are denied.
    block_on: tuple[BlockCondition, ...] = field(default=(), metadata=ADDED)
    #: Threshold invoicing: an interim invoice is issued in an open period each time the
    #: usage accrued since the last one reaches this amount (docs/invoicing.md).
    invoice_at_amount: Decimal | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    versions: tuple[PlanVersion, ...]
    #: What the plan sells (`api`, `storage`): a customer holds at most one subscription per
    #: product at any instant. None: the one implicit product of every plan without one.
    product: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True)
class Discount:
    type: Literal["percentage", "fixed"]
    value: Decimal  # percent (0..100) for percentage, amount for fixed
    months: int | None = None  # periods from the subscription's start month; None = forever


@dataclass(frozen=True)
class Overrides:
    charges: dict[str, Price] = field(default_factory=dict)  # metric -> price
    fixed_fees: dict[str, Decimal] = field(default_factory=dict)  # fee code -> amount
    minimum_amount: Decimal | None = None
    #: features that replace the plan's of the same name, or add to them
    entitlements: tuple[Entitlement, ...] = field(default=(), metadata=ADDED)


def effective_entitlements(version: PlanVersion, overrides: Overrides) -> tuple[Entitlement, ...]:
    """The plan version's features, each replaced by the subscription's override of the same
    feature, then the overrides' new features."""
    replaced = {e.feature: e for e in overrides.entitlements}
    kept = tuple(replaced.pop(e.feature, e) for e in version.entitlements)
    return kept + tuple(replaced.values())


def subscription_id(customer: str, plan: str, start: date) -> str:
    """`<customer>:<plan>:<start>`, stable across catalog versions. `%` and `:` inside the
    parts are percent-encoded, so no two subscriptions share an id (customer `x:p` on plan
    `q` is `x%3Ap:q:...`, customer `x` on plan `p:q` is `x:p%3Aq:...`)."""
    parts = (part.replace("%", "%25").replace(":", "%3A") for part in (customer, plan))
    return ":".join((*parts, start.isoformat()))


@dataclass(frozen=True)
class Subscription:
    id: str  # subscription_id(customer, plan, start)
    customer: str
    plan: str
    version: int  # resolved: explicit, or latest version effective on `start`
    start: date
    end: date | None  # exclusive; None = open-ended
    overrides: Overrides = field(default_factory=Overrides)
    discounts: tuple[Discount, ...] = ()


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    tax_rate: Decimal = Decimal(0)
    subscriptions: tuple[Subscription, ...] = ()
    #: The payment gateway its documents are synced to; None: the project's default.
    gateway: str | None = field(default=None, metadata=ADDED)
    #: The IANA zone whose calendar its periods, metering days and proration run on.
    timezone: str = field(default="UTC", metadata=ADDED)


@dataclass(frozen=True)
class CreditGrant:
    id: str
    customer: str
    amount: Decimal
    effective: date
    expires: date | None
    priority: int = 0
    #: Pays only the part of an invoice attributable to this product's subscriptions.
    product: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True)
class QuotaGrant:
    """Units added to a customer's limit of a metered feature, in the periods that start
    between `effective` and `expires` (inclusive); burnt in the order of credit grants."""

    id: str
    customer: str
    feature: str
    units: Decimal
    effective: date
    expires: date | None
    priority: int = 0


@dataclass(frozen=True)
class Threshold:
    """A point an alert rule watches: a percentage of a feature's limit, or a quantity
    (of a metric or a feature's usage, or money in the customer's currency)."""

    value: Decimal
    percent: bool = False

    @property
    def label(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


AlertTarget = Literal["feature", "metric", "amount"]


@dataclass(frozen=True)
class AlertRule:
    """Alerts on one customer's (or every customer's, `"*"`) usage of a feature, quantity
    of a metric, or invoice amount (`so_far` or `projected`) in each period: each threshold
    fires once per period, then every `every` further. A spending cap (one threshold)
    denies the customer's hard-limited features once crossed, until the period ends."""

    id: str
    customer: str
    target: AlertTarget
    code: str
    thresholds: tuple[Threshold, ...]
    every: Threshold | None = None
    spending_cap: bool = False

    def applies_to(self, customer_id: str) -> bool:
        return self.customer in ("*", customer_id)


@dataclass(frozen=True)
class PartnerCustomer:
    """A customer a partner brought, and the periods the partner earns a share of."""

    customer: str
    start: date
    end: date | None = None


@dataclass(frozen=True)
class Partner:
    """A partner owed `share` of what its customers are billed (docs/partners.md)."""

    id: str
    name: str
    share: Decimal
    customers: tuple[PartnerCustomer, ...]
    #: `subtotal`: the charges before tax and credits; `total`: what the customer owes.
    basis: Literal["subtotal", "total"] = "subtotal"


@dataclass(frozen=True)
class Catalog:
    metrics: tuple[Metric, ...]
    plans: tuple[Plan, ...]
    customers: tuple[Customer, ...]
    credit_grants: tuple[CreditGrant, ...] = ()
    quota_grants: tuple[QuotaGrant, ...] = field(default=(), metadata=ADDED)
    alerts: tuple[AlertRule, ...] = field(default=(), metadata=ADDED)
    partners: tuple[Partner, ...] = field(default=(), metadata=ADDED)
    #: Event properties that identify a person (`user_email`, `ip`): `billing erase`
    #: replaces their values with keyed hashes (docs/erasure.md).
    pii_properties: tuple[str, ...] = field(default=(), metadata=ADDED)

    def product_of(self, plan: str) -> str | None:
        """The plan's product (None: the implicit one, and for a plan not in the catalog)."""
        return next((p.product for p in self.plans if p.code == plan), None)

    def plan_version(self, plan: str, version: int) -> PlanVersion:
        for p in self.plans:
            if p.code == plan:
                for v in p.versions:
                    if v.version == version:
                        return v
        raise KeyError(f"{plan} v{version}")

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(s for c in self.customers for s in c.subscriptions)
