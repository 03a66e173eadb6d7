"""Invoice assembly: rated usage and the catalog in, invoices of one period out.

Usage is rated in SQL (`fct_rated_usage`, exact and unrounded); what is left is per-invoice
arithmetic that SQL would make contorted: rounding each line, prorating fees and minimums,
discounts in order, tax, and prepaid credits whose balances carry across periods. The rules
are CONTRACT.md §3 and docs/invoicing.md. Pure: the same catalog and rated usage always give
the same invoices, whatever order periods are billed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from billing_dagster.catalog.model import (
    CURRENCY_MINOR_UNITS,
    Catalog,
    CreditGrant,
    Customer,
    Subscription,
)
from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.documents import Invoice, InvoiceLine, TierAmount
from billing_dagster.periods import next_period, period_bounds, period_fields, period_of

ZERO = Decimal(0)


@dataclass(frozen=True)
class RatedUsage:
    """One row of `fct_rated_usage`: a metered quantity and its exact amount."""

    subscription_id: str
    metric: str
    group: str | None
    quantity: Decimal
    amount: Decimal
    tiers: tuple[TierAmount, ...] = ()


#: (subscription id, metric) -> its rated rows in one period
PeriodUsage = Mapping[tuple[str, str], list[RatedUsage]]


# -- periods ----------------------------------------------------------------------------


def active_days(subscription: Subscription, period: str) -> int:
    """Dates of the period inside the subscription's [start, end)."""
    first, following = period_bounds(period)
    lower = max(first, subscription.start)
    upper = min(following, subscription.end or following)
    return max((upper - lower).days, 0)


def months_since_start(subscription: Subscription, period: str) -> int:
    """0 in the subscription's start month: the index discount `months` count."""
    year, month = int(period[:4]), int(period[5:7])
    return (year - subscription.start.year) * 12 + month - subscription.start.month


# -- money ------------------------------------------------------------------------------


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half away from zero, to the currency's minor unit (CONTRACT.md §3)."""
    exponent = Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency])
    with localcontext(prec=80):
        rounded = amount.quantize(exponent, rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded.is_zero() else rounded  # never "-0.00"


def money_text(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):f}"


def prorated(amount: Decimal, days: int, period_days: int, currency: str) -> Decimal:
    with localcontext(prec=80):
        return round_money(amount * days / period_days, currency)


# -- one subscription -----------------------------------------------------------------


@dataclass
class SubscriptionBill:
    lines: list[InvoiceLine] = field(default_factory=list)
    charges: Decimal = ZERO
    subtotal: Decimal = ZERO
    discount: Decimal = ZERO


def bill_subscription(
    catalog: Catalog, subscription: Subscription, period: str, usage: PeriodUsage
) -> SubscriptionBill:
    """Steps 1 to 3 of CONTRACT.md §3 for one subscription active in `period`."""
    version = catalog.plan_version(subscription.plan, subscription.version)
    currency = version.currency
    days = active_days(subscription, period)
    first, following = period_bounds(period)
    period_days = (following - first).days
    where = {
        "plan": subscription.plan,
        "plan_version": subscription.version,
        "subscription_id": subscription.id,
    }
    bill = SubscriptionBill()
    for fee in version.fixed_fees:
        amount = subscription.overrides.fixed_fees.get(fee.code, fee.amount)
        line_amount = prorated(amount, days, period_days, currency)
        bill.lines.append(
            {"kind": "fixed_fee", "code": fee.code, "group": None, **where, "quantity": "1"}
            | {"amount": money_text(line_amount, currency)}
            | {"active_days": days, "period_days": period_days}
        )
        bill.charges += line_amount
    for charge in version.charges:
        rated = usage.get((subscription.id, charge.metric)) or [
            RatedUsage(subscription.id, charge.metric, None, ZERO, ZERO)
        ]
        for row in sorted(rated, key=lambda r: r.group or ""):
            line_amount = round_money(row.amount, currency)
            bill.lines.append(
                {"kind": "usage", "code": charge.metric, "group": row.group, **where}
                | {"quantity": decimal_text(row.quantity)}
                | {"amount": money_text(line_amount, currency)}
                | {"tiers": list(row.tiers)}
            )
            bill.charges += line_amount
    bill.subtotal = bill.charges
    minimum = subscription.overrides.minimum_amount
    if minimum is None:
        minimum = version.minimum_amount or ZERO
    shortfall = prorated(minimum, days, period_days, currency) - bill.charges
    if shortfall > 0:
        bill.lines.append(
            {"kind": "minimum_commitment", "code": None, **where}
            | {"amount": money_text(shortfall, currency)}
        )
        bill.subtotal += shortfall
    remaining = bill.subtotal
    index = months_since_start(subscription, period)
    active = [d for d in subscription.discounts if d.months is None or index < d.months]
    ordered = [d for d in active if d.type == "percentage"] + [
        d for d in active if d.type == "fixed"
    ]
    for discount in ordered:
        if discount.type == "percentage":
            amount = round_money(remaining * discount.value / 100, currency)
        else:
            amount = round_money(discount.value, currency)
        amount = min(amount, remaining)
        if amount > 0:
            bill.lines.append(
                {"kind": "discount", "code": None, **where, "amount": money_text(-amount, currency)}
            )
            remaining -= amount
            bill.discount += amount
    return bill


# -- credits ----------------------------------------------------------------------------


def usable(grant: CreditGrant, period: str) -> bool:
    last_day = period_bounds(period)[1] - timedelta(days=1)
    return grant.effective <= last_day and (grant.expires is None or grant.expires >= last_day)


def grant_order(grant: CreditGrant) -> tuple:
    """Priority, then earlier expiry (none last), earlier effective date, id."""
    return (
        grant.priority,
        grant.expires is None,
        grant.expires or date.max,
        grant.effective,
        grant.id,
    )


def product_shares(
    products: list[str | None], bills: list[SubscriptionBill], tax_rate: Decimal, currency: str
) -> dict[str | None, Decimal]:
    """What grants limited to each product may pay of an invoice: the taxable amount of the
    product's subscriptions (subtotal less discount) plus round(that × tax_rate)."""
    taxable: dict[str | None, Decimal] = {}
    for product, bill in zip(products, bills, strict=True):
        taxable[product] = taxable.get(product, ZERO) + bill.subtotal - bill.discount
    return {p: amount + round_money(amount * tax_rate, currency) for p, amount in taxable.items()}


# -- invoices ---------------------------------------------------------------------------


class InvoiceBook:
    """Bills customers period after period, carrying credit balances forward.

    `usage_of(period)` gives the rated usage of a period; the book asks only for the periods
    it needs: the one billed and, for customers with credit grants, every earlier period
    since their first subscription (a grant's balance depends on all of them).
    """

    def __init__(self, catalog: Catalog, usage_of: Callable[[str], PeriodUsage]):
        self.catalog = catalog
        self.usage_of = usage_of
        self.grants: dict[str, list[CreditGrant]] = {}
        for grant in sorted(catalog.credit_grants, key=grant_order):
            self.grants.setdefault(grant.customer, []).append(grant)

    def invoices(self, period: str, only: Collection[str] | None = None) -> list[Invoice]:
        """The draft invoices of `period`, one per customer with an active subscription (of
        the customers in `only`, when given: `usage_of(period)` may then hold only theirs)."""
        customers = [
            customer
            for customer in sorted(self.catalog.customers, key=lambda c: c.id)
            if _active(customer, period) and (only is None or customer.id in only)
        ]
        balances = self._balances_before([c for c in customers if c.id in self.grants], period)
        usage = self.usage_of(period)
        return [
            self._invoice(customer, period, usage, balances.get(customer.id, {}))
            for customer in customers
        ]

    def balances_after(self, customer: Customer, period: str) -> dict[str, Decimal]:
        """Each of `customer`'s grants' balance once `period` and all before it are billed."""
        if customer.id not in self.grants:
            return {}
        return self._balances_before([customer], next_period(period))[customer.id]

    def _balances_before(self, customers: list[Customer], period: str) -> dict[str, dict]:
        """Each grant's balance at the start of `period`, after all earlier invoices."""
        balances = {c.id: {g.id: g.amount for g in self.grants[c.id]} for c in customers}
        if not customers:
            return balances
        current = period_of(min(s.start for c in customers for s in c.subscriptions))
        while current < period:
            usage = self.usage_of(current)
            for customer in customers:
                if _active(customer, current):
                    self._invoice(customer, current, usage, balances[customer.id])
            current = next_period(current)
        return balances

    def _invoice(
        self, customer: Customer, period: str, usage: PeriodUsage, balances: dict[str, Decimal]
    ) -> Invoice:
        """One invoice; takes what its credit lines use from `balances`."""
        subscriptions = sorted(
            (s for s in customer.subscriptions if active_days(s, period)),
            key=lambda s: (s.start, self.catalog.product_of(s.plan) or ""),
        )
        currency = self.catalog.plan_version(
            subscriptions[0].plan, subscriptions[0].version
        ).currency
        bills = [bill_subscription(self.catalog, s, period, usage) for s in subscriptions]
        products = [self.catalog.product_of(s.plan) for s in subscriptions]
        lines = [line for bill in bills for line in bill.lines]
        charges = sum((b.charges for b in bills), ZERO)
        subtotal = sum((b.subtotal for b in bills), ZERO)
        discount = sum((b.discount for b in bills), ZERO)
        taxable = subtotal - discount
        tax = round_money(taxable * customer.tax_rate, currency)
        if customer.tax_rate > 0:
            lines.append({"kind": "tax", "code": None, "amount": money_text(tax, currency)})
        due = taxable + tax
        shares = product_shares(products, bills, customer.tax_rate, currency)
        credits = ZERO
        for grant in self.grants.get(customer.id, []):
            balance = round_money(balances.get(grant.id, ZERO), currency)
            room = due - credits
            if grant.product is not None:
                room = min(room, shares.get(grant.product, ZERO))
            if not usable(grant, period) or balance <= 0 or room <= 0:
                continue
            taken = min(balance, room)
            balances[grant.id] = balance - taken
            credits += taken
            if grant.product is not None:
                shares[grant.product] -= taken
            lines.append(
                {"kind": "credit", "code": grant.id, "amount": money_text(-taken, currency)}
            )
        amounts = {
            "charges": charges,
            "subtotal": subtotal,
            "discount": discount,
            "tax": tax,
            "credits_applied": credits,
            # Corrections of finalized periods, added by invoicing/adjustments.py.
            "adjustments": ZERO,
            "total": due - credits,
        }
        return {
            "invoice_id": f"INV-{period}-{customer.id}",
            "customer_id": customer.id,
            "period": period,
            **period_fields(period, customer.timezone),
            "currency": currency,
            "status": "draft",
            "lines": lines,
            **{name: money_text(value, currency) for name, value in amounts.items()},
            "plan_versions": sorted({f"{s.plan}:{s.version}" for s in subscriptions}),
        }


def _active(customer: Customer, period: str) -> bool:
    return any(active_days(s, period) for s in customer.subscriptions)
