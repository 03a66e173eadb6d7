"""Invoice assembly: rated usage and the catalog in, invoices of one period out.

Usage is rated in SQL (`fct_rated_usage`, exact and unrounded); what is left is per-invoice
arithmetic that SQL would make contorted: rounding each line, prorating fees and minimums,
discounts in order, tax, and prepaid credits whose balances carry across periods. The rules
are CONTRACT.md §3 and docs/invoicing.md. Pure: the same catalog and rated usage always give
the same invoices, whatever order periods are billed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal

from billing_dagster.catalog.model import (
    CURRENCY_MINOR_UNITS,
    Catalog,
    CreditGrant,
    Customer,
    Discount,
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


#: Enough digits for any amount met here (a Decimal256 has 76), given to each operation:
#: entering a local context cost more than the rounding itself, called for every line.
_EXACT = Context(prec=80)
#: The minor unit of each currency: 0.01, or 1 for JPY.
_MINOR_UNITS = {
    currency: Decimal(1).scaleb(-places) for currency, places in CURRENCY_MINOR_UNITS.items()
}


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half away from zero, to the currency's minor unit (CONTRACT.md §3)."""
    rounded = amount.quantize(_MINOR_UNITS[currency], rounding=ROUND_HALF_UP, context=_EXACT)
    return abs(rounded) if rounded.is_zero() else rounded  # never "-0.00"


def money_text(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):f}"


def prorated(amount: Decimal, days: int, period_days: int, currency: str) -> Decimal:
    return round_money(_EXACT.divide(_EXACT.multiply(amount, days), period_days), currency)


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
    where = subscription_fields(subscription)
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
    bill.discount = apply_discounts(
        bill.lines, active_discounts(subscription, period), bill.subtotal, where, currency
    )
    return bill


def subscription_fields(subscription: Subscription) -> dict:
    """What every line of a subscription says of it."""
    return {
        "plan": subscription.plan,
        "plan_version": subscription.version,
        "subscription_id": subscription.id,
    }


def active_discounts(subscription: Subscription, period: str) -> list[Discount]:
    """The subscription's discounts active in `period`, in the order applied: percentages
    first, then fixed amounts, each in catalog order."""
    index = months_since_start(subscription, period)
    active = [d for d in subscription.discounts if d.months is None or index < d.months]
    return [d for d in active if d.type == "percentage"] + [d for d in active if d.type == "fixed"]


def apply_discounts(
    lines: list[InvoiceLine], discounts: list[Discount], amount: Decimal, where: dict, currency: str
) -> Decimal:
    """Append a `discount` line per discount that takes something of `amount` (each from
    what the earlier ones left, never below zero); returns their total."""
    remaining = amount
    for discount in discounts:
        if discount.type == "percentage":
            taken = round_money(remaining * discount.value / 100, currency)
        else:
            taken = round_money(discount.value, currency)
        taken = min(taken, remaining)
        if taken > 0:
            lines.append(
                {"kind": "discount", "code": None, **where, "amount": money_text(-taken, currency)}
            )
            remaining -= taken
    return amount - remaining


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
    taxables: list[tuple[str | None, Decimal]], tax_rate: Decimal, currency: str
) -> dict[str | None, Decimal]:
    """What grants limited to each product may pay of an invoice, from (product, taxable
    amount of one of its subscriptions) pairs: the product's taxable amount plus round(that ×
    tax_rate)."""
    taxable: dict[str | None, Decimal] = {}
    for product, amount in taxables:
        taxable[product] = taxable.get(product, ZERO) + amount
    return {p: amount + round_money(amount * tax_rate, currency) for p, amount in taxable.items()}


# -- invoices ---------------------------------------------------------------------------

#: (customer id, period) -> the interim invoices issued to the customer in the period, in
#: the order issued (threshold invoicing, interim.py).
InterimsOf = Callable[[str, str], list[Invoice]]


def no_interims(_customer: str, _period: str) -> list[Invoice]:
    return []


def invoice_threshold(catalog: Catalog, customer: Customer, period: str) -> Decimal | None:
    """The amount of accrued usage that issues an interim invoice in `period`: the smallest
    `invoice_at_amount` of the plan versions of the customer's subscriptions active in it
    (None: no threshold invoicing)."""
    amounts = [
        catalog.plan_version(s.plan, s.version).invoice_at_amount
        for s in customer.subscriptions
        if active_days(s, period)
    ]
    present = [amount for amount in amounts if amount is not None]
    return min(present) if present else None


class InvoiceBook:
    """Bills customers period after period, carrying credit balances forward.

    `usage_of(period)` gives the rated usage of a period; the book asks only for the periods
    it needs: the one billed and, for customers with credit grants, every earlier period
    since their first subscription (a grant's balance depends on all of them).
    `interims_of` gives the interim invoices already issued, which a period's invoice
    deducts and whose credits count against the grants' balances.
    """

    def __init__(
        self,
        catalog: Catalog,
        usage_of: Callable[[str], PeriodUsage],
        interims_of: InterimsOf = no_interims,
    ):
        self.catalog = catalog
        self.usage_of = usage_of
        self.interims_of = interims_of
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

    def interim(self, customer: Customer, period: str) -> Invoice | None:
        """The interim invoice due now for `customer` in `period`: the usage accrued since its
        last interim invoice, once it reaches the threshold (docs/invoicing.md, "Threshold
        invoicing"); None when nothing is due."""
        threshold = invoice_threshold(self.catalog, customer, period)
        if threshold is None:
            return None
        earlier = self.interims_of(customer.id, period)
        currency = self._currency(customer, period)
        billed = _billed_usage(earlier)
        usage = self.usage_of(period)
        subscriptions = self._subscriptions(customer, period)
        lines: list[InvoiceLine] = []
        taxables: list[tuple[str | None, Decimal]] = []
        accrued = discount = ZERO
        for subscription in subscriptions:
            own, own_accrued, own_discount = self._interim_part(
                subscription, period, usage, billed, currency
            )
            lines += own
            taxables.append(
                (self.catalog.product_of(subscription.plan), own_accrued - own_discount)
            )
            accrued += own_accrued
            discount += own_discount
        if accrued < threshold:
            return None
        balances = {}
        if customer.id in self.grants:
            balances = self._balances_before([customer], period)[customer.id]
        for interim in earlier:
            _take_credits_of(interim, balances)
        number = len(earlier) + 1
        invoice = self._document(
            customer,
            period,
            currency,
            lines,
            {"charges": accrued, "subtotal": accrued, "discount": discount},
            product_shares(taxables, customer.tax_rate, currency),
            balances,
        )
        return invoice | {
            "invoice_id": f"INV-{period}-{customer.id}-I{number}",
            "status": "finalized",
            "plan_versions": sorted({f"{s.plan}:{s.version}" for s in subscriptions}),
            "interim": number,
        }

    def _interim_part(
        self,
        subscription: Subscription,
        period: str,
        usage: PeriodUsage,
        billed: dict[tuple, tuple[InvoiceLine, Decimal]],
        currency: str,
    ) -> tuple[list[InvoiceLine], Decimal, Decimal]:
        """One subscription's lines on an interim invoice, its accrued usage and its discount:
        each usage line's amount to date less what `billed` holds of it (taken out of it),
        then its percentage discounts on the sum."""
        bill = bill_subscription(self.catalog, subscription, period, usage)
        to_date = [line for line in bill.lines if line["kind"] == "usage"]
        metered = {_usage_key(line) for line in to_date}
        to_date += [  # billed before, no longer metered (corrected away)
            line | {"quantity": "0", "amount": money_text(ZERO, currency)}
            for key, (line, _) in billed.items()
            if key[2] == subscription.id and key not in metered
        ]
        lines = []
        for line in to_date:
            _, before = billed.pop(_usage_key(line), (line, ZERO))
            delta = Decimal(line["amount"]) - before
            if delta:
                lines.append(_interim_line(line, delta, currency))
        accrued = sum((Decimal(line["amount"]) for line in lines), ZERO)
        percentages = [d for d in active_discounts(subscription, period) if d.type == "percentage"]
        where = subscription_fields(subscription)
        discount = apply_discounts(lines, percentages, accrued, where, currency)
        return lines, accrued, discount

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

    def _subscriptions(self, customer: Customer, period: str) -> list[Subscription]:
        return sorted(
            (s for s in customer.subscriptions if active_days(s, period)),
            key=lambda s: (s.start, self.catalog.product_of(s.plan) or ""),
        )

    def _currency(self, customer: Customer, period: str) -> str:
        first = self._subscriptions(customer, period)[0]
        return self.catalog.plan_version(first.plan, first.version).currency

    def _invoice(
        self, customer: Customer, period: str, usage: PeriodUsage, balances: dict[str, Decimal]
    ) -> Invoice:
        """One invoice; takes what its credit lines (and its period's interim invoices') use
        from `balances`."""
        subscriptions = self._subscriptions(customer, period)
        currency = self._currency(customer, period)
        bills = [bill_subscription(self.catalog, s, period, usage) for s in subscriptions]
        products = [self.catalog.product_of(s.plan) for s in subscriptions]
        taxables = [(p, b.subtotal - b.discount) for p, b in zip(products, bills, strict=True)]
        amounts = {
            "charges": sum((b.charges for b in bills), ZERO),
            "subtotal": sum((b.subtotal for b in bills), ZERO),
            "discount": sum((b.discount for b in bills), ZERO),
        }
        shares = product_shares(taxables, customer.tax_rate, currency)
        interims = self.interims_of(customer.id, period)
        for interim in interims:
            _take_credits_of(interim, balances)
            for product, share in _interim_shares(self.catalog, interim, customer).items():
                shares[product] = shares.get(product, ZERO) - share
        invoice = self._document(
            customer,
            period,
            currency,
            [line for bill in bills for line in bill.lines],
            amounts,
            shares,
            balances,
            interims,
        )
        return invoice | {"plan_versions": sorted({f"{s.plan}:{s.version}" for s in subscriptions})}

    def _document(
        self,
        customer: Customer,
        period: str,
        currency: str,
        lines: list[InvoiceLine],
        amounts: dict[str, Decimal],
        shares: dict[str | None, Decimal],
        balances: dict[str, Decimal],
        interims: Sequence[Invoice] = (),
    ) -> Invoice:
        """Steps 4 to 6 of CONTRACT.md §3 on the lines of steps 1 to 3: the deduction of the
        period's interim invoices, tax, credits and the totals."""
        lines = list(lines)
        taxable = amounts["subtotal"] - amounts["discount"]
        tax = round_money(taxable * customer.tax_rate, currency)
        interim_usage = sum((Decimal(i["subtotal"]) for i in interims), ZERO)
        interim_discount = sum((Decimal(i["discount"]) for i in interims), ZERO)
        if interims:
            lines.append(
                {
                    "kind": "interim_invoiced",
                    "code": "usage",
                    "amount": money_text(-interim_usage, currency),
                    "interim_invoices": [i["invoice_id"] for i in interims],
                }
            )
        if interim_discount:
            lines.append(
                {
                    "kind": "interim_invoiced",
                    "code": "discount",
                    "amount": money_text(interim_discount, currency),
                }
            )
        taxable -= interim_usage - interim_discount
        tax -= sum((Decimal(i["tax"]) for i in interims), ZERO)
        if customer.tax_rate > 0:
            lines.append({"kind": "tax", "code": None, "amount": money_text(tax, currency)})
        due = taxable + tax
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
        totals = amounts | {
            "tax": tax,
            "credits_applied": credits,
            # Corrections of finalized periods, added by invoicing/adjustments.py.
            "adjustments": ZERO,
            "total": due - credits,
        }
        if interims:
            totals["interim_invoiced"] = interim_usage - interim_discount
        return {
            "invoice_id": f"INV-{period}-{customer.id}",
            "customer_id": customer.id,
            "period": period,
            **period_fields(period, customer.timezone),
            "currency": currency,
            "status": "draft",
            "lines": lines,
            **{name: money_text(value, currency) for name, value in totals.items()},
        }


def _billed_usage(interims: list[Invoice]) -> dict[tuple, tuple[InvoiceLine, Decimal]]:
    """Per usage line, what interim invoices billed of it: (its last line, the sum)."""
    billed: dict[tuple, tuple[InvoiceLine, Decimal]] = {}
    for interim in interims:
        for line in (line for line in interim["lines"] if line["kind"] == "usage"):
            _, amount = billed.get(_usage_key(line), (line, ZERO))
            billed[_usage_key(line)] = line, amount + Decimal(line["amount"])
    return billed


def _usage_key(line: InvoiceLine) -> tuple:
    return line["code"], line.get("group"), line.get("subscription_id")


def _interim_line(line: InvoiceLine, delta: Decimal, currency: str) -> InvoiceLine:
    """A usage line of an interim invoice: the quantity and amount to date
    (`amount_to_date`), and as its `amount` what earlier interim invoices did not bill."""
    return line | {"amount": money_text(delta, currency), "amount_to_date": line["amount"]}


def _take_credits_of(invoice: Invoice, balances: dict[str, Decimal]) -> None:
    """Take what an issued invoice's credit lines used from the grants' balances."""
    for line in invoice["lines"]:
        if line["kind"] == "credit":
            balances[line["code"]] = balances.get(line["code"], ZERO) + Decimal(line["amount"])


def _interim_shares(
    catalog: Catalog, interim: Invoice, customer: Customer
) -> dict[str | None, Decimal]:
    """What grants limited to each product could pay of an issued interim invoice."""
    plans = {s.id: s.plan for s in customer.subscriptions}
    taxables = [
        (catalog.product_of(plans.get(line["subscription_id"], "")), Decimal(line["amount"]))
        for line in interim["lines"]
        if line["kind"] in ("usage", "discount")
    ]
    return product_shares(taxables, customer.tax_rate, interim["currency"])


def _active(customer: Customer, period: str) -> bool:
    return any(active_days(s, period) for s in customer.subscriptions)
