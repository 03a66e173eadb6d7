"""A pure-Python oracle for rating and invoicing: CONTRACT.md §3 (pricing arithmetic) and §4
(invoice JSON), with the choices the contract leaves open taken from docs/invoicing.md.

It is written from those two documents alone, independently of the product (which rates in
dbt SQL and assembles invoices in `billing_dagster/invoicing/`), so that randomized tests can
compare the two. It favours obviously correct code over speed and uses `Decimal` only, never
floats. Nothing here is imported by the product, and nothing of the product is used here but
the catalog's model classes.

Entry points:

* `charge_amount(price, quantity)`: the unrounded amount of one charge model.
* `round_money(amount, currency)` and `money_text(amount, currency)`: minor units.
* `reference_invoices(events, catalog, period)`: what `billing invoices --period P` must
  print, without the `invoice_id` and `status` fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import wraps
from typing import TypeVar
from zoneinfo import ZoneInfo

from billing_dagster.catalog.model import (
    CURRENCY_MINOR_UNITS,
    Catalog,
    Charge,
    CreditGrant,
    Customer,
    Discount,
    PlanVersion,
    Price,
    Subscription,
    Tier,
)
from tests.reference.usage import (
    Event,
    active_window,
    decimal_text,
    effective_events,
    period_bounds,
    window_quantities,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)

#: Arithmetic that must be exact: any result needing more than 60 digits raises, never rounds.
_EXACT = Context(
    prec=60, rounding=ROUND_HALF_UP, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow]
)
#: The one place a result may be rounded: to a currency's minor unit, and the day-ratio of a
#: proration (see `_prorated`).
_ROUNDING = Context(
    prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)

_T = TypeVar("_T")


def _exact(function: Callable[..., _T]) -> Callable[..., _T]:
    """Run `function` with exact arithmetic, whatever the caller's decimal context is."""

    @wraps(function)
    def wrapper(*args, **kwargs) -> _T:
        with localcontext(_EXACT):
            return function(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------------------------
# Money


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount as an exponent template: 0.01 for USD, 1 for JPY."""
    return Decimal((0, (1,), -CURRENCY_MINOR_UNITS[currency]))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to the currency's minor unit, half away from zero (CONTRACT §3).

    `ROUND_HALF_UP` in `decimal` is half away from zero: -0.005 becomes -0.01.
    """
    rounded = amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP, context=_ROUNDING)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # never "-0.00"


def money_text(amount: Decimal, currency: str) -> str:
    """The amount as written in invoice JSON: exactly the currency's decimals ("49.00", "490")."""
    return f"{round_money(amount, currency):f}"


# ---------------------------------------------------------------------------------------------
# Charge models


@_exact
def charge_amount(price: Price, quantity: Decimal) -> Decimal:
    """The unrounded amount of `quantity` units under `price` (CONTRACT §3, "Charge models").

    A quantity of 0 costs 0 under every model, whatever flat fees the tiers have.
    """
    if quantity == 0:
        return ZERO
    if price.model == "per_unit":
        assert price.unit_price is not None
        return quantity * price.unit_price
    if price.model == "graduated":
        return _graduated_amount(price.tiers, quantity)
    if price.model == "volume":
        return _volume_amount(price.tiers, quantity)
    if price.model == "package":
        return _package_amount(price, quantity)
    raise ValueError(f"unknown charge model {price.model!r}")


def _graduated_amount(tiers: tuple[Tier, ...], quantity: Decimal) -> Decimal:
    """Each tier prices the units in (previous up_to, up_to]; its flat fee counts when it holds
    at least one unit (any positive amount)."""
    total = ZERO
    lower = ZERO
    for tier in tiers:
        if quantity <= lower:  # this tier and every later one hold no unit
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        total += (upper - lower) * tier.unit_price + tier.flat_fee
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


def _volume_amount(tiers: tuple[Tier, ...], quantity: Decimal) -> Decimal:
    """The one tier with previous up_to < q <= up_to prices every unit, plus its flat fee.

    A negative quantity lies in no tier and costs 0.
    """
    lower = ZERO
    for tier in tiers:
        if lower < quantity and (tier.up_to is None or quantity <= tier.up_to):
            return quantity * tier.unit_price + tier.flat_fee
        if tier.up_to is None:
            break
        lower = tier.up_to
    return ZERO


def _package_amount(price: Price, quantity: Decimal) -> Decimal:
    """ceil(max(q − free_units, 0) / package_size) whole packages at package_price each."""
    assert price.package_size is not None and price.package_price is not None
    billable = max(quantity - price.free_units, ZERO)
    whole, rest = divmod(billable, price.package_size)  # exact: integer quotient and remainder
    packages = whole + (1 if rest != 0 else 0)
    return packages * price.package_price


# ---------------------------------------------------------------------------------------------
# Periods


def _period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _next_period(period: str) -> str:
    _, following = period_bounds(period)
    return _period_of(following)


def _last_day(period: str) -> date:
    _, following = period_bounds(period)
    return following - timedelta(days=1)


def _days_in(period: str) -> int:
    first, following = period_bounds(period)
    return (following - first).days


def _active_days(subscription: Subscription, period: str) -> int:
    """The dates of the period inside the subscription's [start, end)."""
    window = active_window(subscription, period)
    if window is None:
        return 0
    lower, upper = window
    return (upper.date() - lower.date()).days


def _period_index(subscription: Subscription, period: str) -> int:
    """Periods since the subscription's start month, which is index 0 (for discounts)."""
    first, _ = period_bounds(period)
    start = subscription.start
    return (first.year - start.year) * 12 + (first.month - start.month)


def _prorated(amount: Decimal, subscription: Subscription, period: str, currency: str) -> Decimal:
    """round(amount × active days / days in period), for fixed fees and minimums.

    The one inexact division: it is computed to 60 significant digits before the rounding to
    the minor unit. With at most 31 days below the line the quotient either terminates or
    repeats with a period shorter than 30 digits, so it can never look like an exact half of
    a minor unit at 60 digits unless it is one: the double rounding is harmless.
    """
    active = _active_days(subscription, period)
    days = _days_in(period)
    with localcontext(_ROUNDING):
        share = amount * active / days
    return round_money(share, currency)


# ---------------------------------------------------------------------------------------------
# One subscription's part of an invoice (steps 1 to 3 of CONTRACT §3)


class _SubscriptionPart:
    """The lines of one subscription in one period and their sums, amounts still `Decimal`."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self.charges = ZERO
        self.minimum = ZERO
        self.discount = ZERO

    @property
    def subtotal(self) -> Decimal:
        return self.charges + self.minimum


def _subscription_fields(subscription: Subscription) -> dict:
    return {
        "plan": subscription.plan,
        "plan_version": subscription.version,
        "subscription_id": subscription.id,
    }


def _fixed_fee_lines(
    subscription: Subscription, version: PlanVersion, period: str
) -> list[tuple[dict, Decimal]]:
    """One line per fixed fee, in catalog order; an override replaces the fee's amount."""
    lines = []
    for fee in version.fixed_fees:
        amount = subscription.overrides.fixed_fees.get(fee.code, fee.amount)
        rounded = _prorated(amount, subscription, period, version.currency)
        line = {"kind": "fixed_fee", "code": fee.code, "group": None}
        line |= _subscription_fields(subscription) | {"quantity": "1"}
        lines.append((line, rounded))
    return lines


def _charge_price(subscription: Subscription, charge: Charge, group: str | None) -> Price:
    """An override replaces the charge's price; a group's own price still wins over both."""
    if group is not None and group in charge.group_prices:
        return charge.group_prices[group]
    return subscription.overrides.charges.get(charge.metric, charge.price)


def _usage_lines(
    subscription: Subscription,
    version: PlanVersion,
    charge: Charge,
    measured: dict[str | None, Decimal],
) -> list[tuple[dict, Decimal]]:
    """One line per group with a counted event, ordered by group text; a charge with no
    counted event at all still gets one line, quantity 0 and group None."""
    if not measured:
        measured = {None: ZERO}
    lines = []
    for group in sorted(measured, key=lambda g: "" if g is None else g):
        quantity = measured[group]
        amount = charge_amount(_charge_price(subscription, charge, group), quantity)
        line = {"kind": "usage", "code": charge.metric, "group": group}
        line |= _subscription_fields(subscription) | {"quantity": decimal_text(quantity)}
        lines.append((line, round_money(amount, version.currency)))
    return lines


def _minimum_amount(subscription: Subscription, version: PlanVersion) -> Decimal | None:
    """The override's minimum when there is one (an override of 0 removes it), else the plan's."""
    if subscription.overrides.minimum_amount is not None:
        return subscription.overrides.minimum_amount
    return version.minimum_amount


def _discount_is_active(discount: Discount, index: int) -> bool:
    return discount.months is None or 0 <= index < discount.months


@_exact
def _discount_amounts(
    discounts: tuple[Discount, ...], index: int, subtotal: Decimal, currency: str
) -> list[Decimal]:
    """The active discounts' amounts in the order applied (percentages first, then fixed,
    each in catalog order); each is rounded and none takes the remainder below zero."""
    ordered = [d for d in discounts if d.type == "percentage"]
    ordered += [d for d in discounts if d.type == "fixed"]
    remaining = subtotal
    amounts = []
    for discount in ordered:
        if not _discount_is_active(discount, index):
            continue
        if discount.type == "percentage":
            taken = round_money(remaining * discount.value / HUNDRED, currency)
        else:
            taken = round_money(discount.value, currency)
        taken = max(min(taken, remaining), ZERO)  # never below zero, never adds
        remaining -= taken
        amounts.append(taken)
    return amounts


@_exact
def _subscription_part(
    subscription: Subscription, catalog: Catalog, customer_events: list[Event], period: str
) -> _SubscriptionPart:
    """Fixed fees, usage, minimum commitment and discounts of one subscription."""
    version = catalog.plan_version(subscription.plan, subscription.version)
    currency = version.currency
    [customer] = [c for c in catalog.customers if c.id == subscription.customer]
    window = active_window(subscription, period, customer.timezone)
    assert window is not None, "only subscriptions active in the period are billed"
    metrics = {metric.code: metric for metric in catalog.metrics}

    part = _SubscriptionPart()
    priced = _fixed_fee_lines(subscription, version, period)
    for charge in version.charges:
        measured = window_quantities(metrics[charge.metric], customer_events, window)
        priced += _usage_lines(subscription, version, charge, measured)
    for line, amount in priced:
        part.lines.append(line | {"amount": amount})
        part.charges += amount

    minimum = _minimum_amount(subscription, version)
    if minimum is not None:
        difference = _prorated(minimum, subscription, period, currency) - part.charges
        if difference > 0:
            part.minimum = difference
            line = {"kind": "minimum_commitment", "code": None}
            part.lines.append(line | _subscription_fields(subscription) | {"amount": difference})

    index = _period_index(subscription, period)
    for taken in _discount_amounts(subscription.discounts, index, part.subtotal, currency):
        part.discount += taken
        if taken != 0:
            line = {"kind": "discount", "code": None}
            part.lines.append(line | _subscription_fields(subscription) | {"amount": -taken})
    return part


# ---------------------------------------------------------------------------------------------
# Credits (step 5)


def _grant_is_usable(grant: CreditGrant, period: str) -> bool:
    """Effective on or before the period's last day and not expired before it."""
    last = _last_day(period)
    return grant.effective <= last and (grant.expires is None or grant.expires >= last)


def _grant_order(grant: CreditGrant) -> tuple:
    """Lowest priority first, then earlier expiry (none last), earlier effective, id."""
    return (
        grant.priority,
        grant.expires is None,
        grant.expires or date.min,
        grant.effective,
        grant.id,
    )


@_exact
def _credits_taken(
    grants: list[CreditGrant],
    balances: dict[str, Decimal],
    due: Decimal,
    period: str,
    product_due: dict[str | None, Decimal],
) -> list[tuple[str, Decimal]]:
    """(grant id, amount) for every grant that pays part of `due`, in the order used. The
    grants limited to a product pay together at most `product_due[product]`."""
    taken = []
    paid_by_product: dict[str, Decimal] = {}
    for grant in sorted(grants, key=_grant_order):
        if due <= 0:
            break
        if not _grant_is_usable(grant, period):
            continue
        limit = due
        if grant.product is not None:
            left = product_due.get(grant.product, ZERO) - paid_by_product.get(grant.product, ZERO)
            limit = min(limit, left)
        amount = min(balances[grant.id], limit)
        if amount > 0:
            taken.append((grant.id, amount))
            due -= amount
            if grant.product is not None:
                paid_by_product[grant.product] = paid_by_product.get(grant.product, ZERO) + amount
    return taken


# ---------------------------------------------------------------------------------------------
# Invoices


def _product(catalog: Catalog, subscription: Subscription) -> str | None:
    [plan] = [p for p in catalog.plans if p.code == subscription.plan]
    return plan.product


def _active_subscriptions(customer: Customer, period: str, catalog: Catalog) -> list[Subscription]:
    """In order of start, then of product (the implicit product first)."""
    active = [s for s in customer.subscriptions if active_window(s, period) is not None]
    return sorted(active, key=lambda s: (s.start, _product(catalog, s) or ""))


def _render_amounts(line: dict, currency: str) -> dict:
    return line | {"amount": money_text(line["amount"], currency)}


@_exact
def _invoice(
    customer: Customer,
    catalog: Catalog,
    customer_events: list[Event],
    period: str,
    balances: dict[str, Decimal],
    interims: list[dict] = (),
) -> tuple[dict, list[tuple[str, Decimal]]]:
    """The customer's invoice of `period` and the credits it takes, given the grants'
    balances left by earlier periods (and by `interims`, the period's interim invoices,
    which the invoice deducts)."""
    subscriptions = _active_subscriptions(customer, period, catalog)
    currency = catalog.plan_version(subscriptions[0].plan, subscriptions[0].version).currency
    lines: list[dict] = []
    charges = subtotal = discount = ZERO
    product_taxable: dict[str | None, Decimal] = {}
    for subscription in subscriptions:
        part = _subscription_part(subscription, catalog, customer_events, period)
        lines += part.lines
        charges += part.charges
        subtotal += part.subtotal
        discount += part.discount
        product = _product(catalog, subscription)
        product_taxable[product] = product_taxable.get(product, ZERO) + (
            part.subtotal - part.discount
        )
    product_due = _product_due(product_taxable, customer.tax_rate, currency)

    taxable = subtotal - discount
    tax = round_money(taxable * customer.tax_rate, currency)
    # Threshold invoicing: the usage the interim invoices billed, and the discounts they
    # gave on it, are deducted before tax; the tax is the period's less theirs.
    interim_usage = sum((Decimal(i["subtotal"]) for i in interims), ZERO)
    interim_discount = sum((Decimal(i["discount"]) for i in interims), ZERO)
    if interims:
        lines.append(
            {
                "kind": "interim_invoiced",
                "code": "usage",
                "amount": -interim_usage,
                "interim_invoices": [i["invoice_id"] for i in interims],
            }
        )
        if interim_discount != 0:
            lines.append(
                {"kind": "interim_invoiced", "code": "discount", "amount": interim_discount}
            )
        taxable -= interim_usage - interim_discount
        tax -= sum((Decimal(i["tax"]) for i in interims), ZERO)
        for interim in interims:
            for product, due in _interim_product_due(catalog, customer, interim).items():
                product_due[product] = product_due.get(product, ZERO) - due
    if customer.tax_rate > 0:
        lines.append({"kind": "tax", "code": None, "amount": tax})

    grants = [g for g in catalog.credit_grants if g.customer == customer.id]
    taken = _credits_taken(grants, balances, taxable + tax, period, product_due)
    credits_applied = sum((amount for _, amount in taken), ZERO)
    lines += [{"kind": "credit", "code": gid, "amount": -amount} for gid, amount in taken]

    invoice = {
        "customer_id": customer.id,
        "period": period,
        "currency": currency,
        "lines": [_render_amounts(line, currency) for line in lines],
        "charges": money_text(charges, currency),
        "subtotal": money_text(subtotal, currency),
        "discount": money_text(discount, currency),
        "tax": money_text(tax, currency),
        "credits_applied": money_text(credits_applied, currency),
        "total": money_text(taxable + tax - credits_applied, currency),
    }
    if interims:
        invoice["interim_invoiced"] = money_text(interim_usage - interim_discount, currency)
    return invoice, taken


def _product_due(
    product_taxable: dict[str | None, Decimal], tax_rate: Decimal, currency: str
) -> dict[str | None, Decimal]:
    """What grants limited to each product may pay: its taxable amount and the tax on it."""
    return {
        product: amount + round_money(amount * tax_rate, currency)
        for product, amount in product_taxable.items()
    }


def _first_period(customer: Customer) -> str | None:
    if not customer.subscriptions:
        return None
    return _period_of(min(s.start for s in customer.subscriptions))


@_exact
def _period_in_zone(period: str, timezone: str) -> dict:
    """A customer off UTC: its zone and the period's bounds, local (with the offset) and UTC."""
    if timezone == "UTC":
        return {}
    first, following = period_bounds(period)
    bounds = [datetime.combine(day, time(), ZoneInfo(timezone)) for day in (first, following)]
    return {
        "timezone": timezone,
        "period_start": bounds[0].isoformat(),
        "period_end": bounds[1].isoformat(),
        "period_start_utc": bounds[0].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period_end_utc": bounds[1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _customer_invoice(
    customer: Customer, catalog: Catalog, customer_events: list[Event], period: str
) -> dict | None:
    """The customer's invoice of `period`, None when no subscription is active in it."""
    if not _active_subscriptions(customer, period, catalog):
        return None
    balances = _balances_before(customer, catalog, customer_events, period)
    invoice = _invoice(customer, catalog, customer_events, period, balances)[0]
    return invoice | _period_in_zone(period, customer.timezone)


@_exact
def _balances_before(
    customer: Customer, catalog: Catalog, customer_events: list[Event], period: str
) -> dict[str, Decimal]:
    """The customer's grants' balances at the start of `period`.

    Grants' balances depend on every earlier invoice, so the invoices are computed in order
    from the customer's first subscribed period, each period once, carrying the balances.
    """
    currency = catalog.plan_version(
        customer.subscriptions[0].plan, customer.subscriptions[0].version
    ).currency
    # A grant's balance is kept in minor units: an amount written with more decimals than
    # the currency has is rounded like every other amount.
    balances = {
        g.id: round_money(g.amount, currency)
        for g in catalog.credit_grants
        if g.customer == customer.id
    }
    current = _first_period(customer)
    while current is not None and current < period:
        if _active_subscriptions(customer, current, catalog):
            _, taken = _invoice(customer, catalog, customer_events, current, balances)
            for grant_id, amount in taken:
                balances[grant_id] -= amount
        current = _next_period(current)
    return balances


def reference_invoices(events: list[Event], catalog: Catalog, period: str) -> list[dict]:
    """The invoices of `period` ("YYYY-MM"), sorted by customer_id.

    `events` are the accepted events (as `reference_ingest(...).events` returns them);
    corrections are applied here. Each invoice is `{"customer_id", "period", "currency",
    "lines", "charges", "subtotal", "discount", "tax", "credits_applied", "total"}` with
    every amount a string of exactly the currency's decimals; see docs/invoicing.md for the
    lines and their order.
    """
    period_bounds(period)  # reject a malformed period early
    counting = effective_events(events)
    invoices = []
    for customer in sorted(catalog.customers, key=lambda c: c.id):
        customer_events = [e for e in counting if e.customer_id == customer.id]
        invoice = _customer_invoice(customer, catalog, customer_events, period)
        if invoice is not None:
            invoices.append(invoice)
    return invoices


# ---------------------------------------------------------------------------------------------
# Threshold invoicing (docs/invoicing.md, "Threshold invoicing")


def _threshold(customer: Customer, catalog: Catalog, period: str) -> Decimal | None:
    """The lowest `invoice_at_amount` of the plan versions active in the period, if any."""
    amounts = [
        catalog.plan_version(s.plan, s.version).invoice_at_amount
        for s in _active_subscriptions(customer, period, catalog)
    ]
    given = [amount for amount in amounts if amount is not None]
    return min(given) if given else None


def _interim_product_due(catalog: Catalog, customer: Customer, interim: dict) -> dict:
    """What grants limited to each product could pay of an interim invoice."""
    plan_of = {s.id: s.plan for s in customer.subscriptions}
    taxable: dict[str | None, Decimal] = {}
    for line in interim["lines"]:
        if line["kind"] in ("usage", "discount"):
            [plan] = [p for p in catalog.plans if p.code == plan_of[line["subscription_id"]]]
            taxable[plan.product] = taxable.get(plan.product, ZERO) + Decimal(line["amount"])
    return _product_due(taxable, customer.tax_rate, interim["currency"])


@_exact
def _interim(
    customer: Customer,
    catalog: Catalog,
    customer_events: list[Event],
    period: str,
    earlier: list[dict],
    balances: dict[str, Decimal],
) -> dict | None:
    """The interim invoice a billing run issues when it sees `customer_events`: the usage
    line amounts to date less what `earlier` interim invoices billed of each line, when
    their sum reaches the threshold; takes its credits from `balances`."""
    threshold = _threshold(customer, catalog, period)
    if threshold is None:
        return None
    to_date, _ = _invoice(customer, catalog, customer_events, period, dict(balances))
    currency = to_date["currency"]
    billed: dict[tuple, tuple[dict, Decimal]] = {}
    for interim in earlier:
        for line in interim["lines"]:
            if line["kind"] == "usage":
                key = (line["code"], line["group"], line["subscription_id"])
                billed[key] = (line, billed.get(key, (line, ZERO))[1] + Decimal(line["amount"]))
    lines: list[dict] = []
    accrued = discounted = ZERO
    for subscription in _active_subscriptions(customer, period, catalog):
        deltas: list[tuple[dict, Decimal]] = []
        for line in to_date["lines"]:
            if line["kind"] == "usage" and line["subscription_id"] == subscription.id:
                key = (line["code"], line["group"], line["subscription_id"])
                delta = Decimal(line["amount"]) - billed.pop(key, (line, ZERO))[1]
                if delta != 0:
                    deltas.append((line | {"amount_to_date": line["amount"]}, delta))
        for key in [key for key in billed if key[2] == subscription.id]:
            line, amount = billed.pop(key)  # billed before, no longer counted
            gone = {"quantity": "0", "amount_to_date": money_text(ZERO, currency)}
            deltas.append((line | gone, -amount))
        lines += [line | {"amount": delta} for line, delta in deltas]
        subtotal = sum((delta for _, delta in deltas), ZERO)
        accrued += subtotal
        # Percentage discounts only, on the subscription's accrued usage; fixed ones are
        # the period invoice's.
        percentages = tuple(d for d in subscription.discounts if d.type == "percentage")
        index = _period_index(subscription, period)
        for taken in _discount_amounts(percentages, index, subtotal, currency):
            if taken != 0:
                discounted += taken
                line = {"kind": "discount", "code": None}
                lines.append(line | _subscription_fields(subscription) | {"amount": -taken})
    if accrued < threshold:
        return None
    tax = round_money((accrued - discounted) * customer.tax_rate, currency)
    if customer.tax_rate > 0:
        lines.append({"kind": "tax", "code": None, "amount": tax})
    number = len(earlier) + 1
    interim = {"invoice_id": f"INV-{period}-{customer.id}-I{number}", "currency": currency}
    interim["lines"] = [_render_amounts(line, currency) for line in lines]
    grants = [g for g in catalog.credit_grants if g.customer == customer.id]
    product_due = _interim_product_due(catalog, customer, interim)
    taken = _credits_taken(grants, balances, accrued - discounted + tax, period, product_due)
    for grant_id, amount in taken:
        balances[grant_id] -= amount
        interim["lines"].append(
            {"kind": "credit", "code": grant_id, "amount": money_text(-amount, currency)}
        )
    credits_applied = sum((amount for _, amount in taken), ZERO)
    return interim | {
        "customer_id": customer.id,
        "period": period,
        "charges": money_text(accrued, currency),
        "subtotal": money_text(accrued, currency),
        "discount": money_text(discounted, currency),
        "tax": money_text(tax, currency),
        "credits_applied": money_text(credits_applied, currency),
        "total": money_text(accrued - discounted + tax - credits_applied, currency),
        "interim": number,
    }


@_exact
def reference_threshold_invoices(
    snapshots: list[list[Event]], catalog: Catalog, period: str
) -> dict[str, list[dict]]:
    """Per customer with a subscription in `period`: the interim invoices that billing runs
    of the open period issue, one run per snapshot (the accepted events it sees, in order),
    then the period's invoice billed from the last snapshot, which deducts them.

    Interim invoices of periods before `period` are not modelled: they must have none.
    """
    documents: dict[str, list[dict]] = {}
    for customer in sorted(catalog.customers, key=lambda c: c.id):
        if not _active_subscriptions(customer, period, catalog):
            continue
        interims: list[dict] = []
        events: list[Event] = []
        balances: dict[str, Decimal] = {}
        for snapshot in snapshots:
            counting = effective_events(snapshot)
            events = [e for e in counting if e.customer_id == customer.id]
            balances = _balances_before(customer, catalog, events, period)
            for interim in interims:  # what the issued ones took
                for line in interim["lines"]:
                    if line["kind"] == "credit":
                        balances[line["code"]] += Decimal(line["amount"])
            interim = _interim(customer, catalog, events, period, interims, balances)
            if interim is not None:
                interims.append(interim)
        final, _ = _invoice(customer, catalog, events, period, balances, interims)
        zone = _period_in_zone(period, customer.timezone)
        documents[customer.id] = [document | zone for document in (*interims, final)]
    return documents
