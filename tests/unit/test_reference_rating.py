"""The rating oracle (`tests/reference/rating.py`) against hand-computed amounts.

Every expected amount here is worked out by hand from CONTRACT.md §3 and docs/invoicing.md,
with the arithmetic in a comment, so the oracle that the randomized pipeline tests trust is
itself checked case by case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing_dagster.catalog.model import (
    Catalog,
    Charge,
    CreditGrant,
    Customer,
    Discount,
    FixedFee,
    Metric,
    Overrides,
    Plan,
    PlanVersion,
    Price,
    Subscription,
    Tier,
)
from tests.reference.rating import charge_amount, money_text, reference_invoices, round_money
from tests.reference.usage import Event

D = Decimal
OCT = "2026-10"

CALLS = Metric("calls", "api", "count")
TOKENS = Metric("tokens", "gen", "sum", "n", group_by="model")
GB = Metric("gb", "store", "sum", "n")
METRICS = (CALLS, TOKENS, GB)


# ---------------------------------------------------------------------------------------------
# Builders


def per_unit(unit_price: str) -> Price:
    return Price("per_unit", unit_price=D(unit_price))


def tiered(model: str, *tiers: tuple) -> Price:
    """`tiers` as (up_to or None, unit_price, flat_fee="0")."""
    return Price(
        model, tiers=tuple(Tier(None if t[0] is None else D(t[0]), *map(D, t[1:])) for t in tiers)
    )


def package(size: str, price: str, free: str = "0") -> Price:
    return Price("package", package_size=D(size), package_price=D(price), free_units=D(free))


def version(
    plan: str = "pro",
    fees: tuple[tuple[str, str], ...] = (),
    charges: tuple[Charge, ...] = (),
    minimum: str | None = None,
    currency: str = "USD",
) -> PlanVersion:
    return PlanVersion(
        plan,
        1,
        date(2020, 1, 1),
        currency,
        fixed_fees=tuple(FixedFee(code, D(amount)) for code, amount in fees),
        minimum_amount=None if minimum is None else D(minimum),
        charges=charges,
    )


def sub(
    start: date,
    end: date | None = None,
    plan: str = "pro",
    customer: str = "acme",
    overrides: Overrides | None = None,
    discounts: tuple[Discount, ...] = (),
) -> Subscription:
    return Subscription(
        f"{customer}:{plan}:{start}",
        customer,
        plan,
        1,
        start,
        end,
        overrides=overrides or Overrides(),
        discounts=discounts,
    )


def customer(*subscriptions: Subscription, tax: str = "0") -> Customer:
    name = subscriptions[0].customer
    return Customer(name, name, tax_rate=D(tax), subscriptions=subscriptions)


def catalog(
    versions: tuple[PlanVersion, ...],
    customers: tuple[Customer, ...],
    grants: tuple[CreditGrant, ...] = (),
) -> Catalog:
    plans = tuple(Plan(v.plan, v.plan.title(), (v,)) for v in versions)
    return Catalog(metrics=METRICS, plans=plans, customers=customers, credit_grants=grants)


def grant(
    gid: str,
    amount: str,
    effective: date = date(2026, 1, 1),
    expires: date | None = None,
    priority: int = 0,
) -> CreditGrant:
    return CreditGrant(gid, "acme", D(amount), effective, expires, priority)


def at(text: str) -> datetime:
    """An ISO date or date-time as a UTC instant (noon when only a date is given)."""
    if "T" not in text:
        text += "T12:00:00"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ev(
    eid: str, name: str = "api", when: str = "2026-10-15", who: str = "acme", **props: str
) -> Event:
    return Event(who, eid, name, at(when), dict(props))


def calls(count: int, when: str = "2026-10-15", prefix: str = "c") -> list[Event]:
    return [ev(f"{prefix}{i}", when=when) for i in range(count)]


def only_invoice(events: list[Event], cat: Catalog, period: str = OCT) -> dict:
    invoices = reference_invoices(events, cat, period)
    assert len(invoices) == 1
    return invoices[0]


def amounts(invoice: dict) -> list[tuple[str, str | None, str]]:
    """(kind, code, amount) of each line, in order."""
    return [(line["kind"], line["code"], line["amount"]) for line in invoice["lines"]]


def totals(invoice: dict) -> tuple[str, ...]:
    keys = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")
    return tuple(invoice[key] for key in keys)


PRO_FIELDS = {"plan": "pro", "plan_version": 1}


# ---------------------------------------------------------------------------------------------
# Charge models


def test_per_unit_multiplies_exactly():
    assert charge_amount(per_unit("0.000002"), D("1234567")) == D("2.469134")
    assert charge_amount(per_unit("0.1"), D("2.5")) == D("0.25")


# graduated and volume share these tiers: (0, 10] at 1 + flat 2, (10, 20] at 0.5 + flat 5,
# (20, ∞) at 0.1
TIERS = (("10", "1", "2"), ("20", "0.5", "5"), (None, "0.1", "0"))


@pytest.mark.parametrize(
    "price",
    [
        per_unit("3"),
        tiered("graduated", *TIERS),  # a flat fee on the first tier: still 0
        tiered("volume", *TIERS),
        package("100", "5.00"),
        package("100", "5.00", free="50"),
    ],
    ids=["per_unit", "graduated", "volume", "package", "package_free_units"],
)
def test_quantity_zero_costs_zero_under_every_model(price):
    assert charge_amount(price, D(0)) == 0
    assert charge_amount(price, D("0.000")) == 0


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0.5", "2.5"),  # 0.5 × 1 + 2
        ("10", "12"),  # on the bound: 10 × 1 + 2; tier 2 holds nothing, so no flat fee 5
        ("10.001", "17.0005"),  # 12 + 0.001 × 0.5 + 5
        ("20", "22"),  # on the bound: 12 + 10 × 0.5 + 5
        ("25", "22.5"),  # 22 + 5 × 0.1 (the last tier has no flat fee)
    ],
)
def test_graduated_prices_the_units_of_each_tier_and_its_flat_fee(quantity, expected):
    assert charge_amount(tiered("graduated", *TIERS), D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0.5", "2.5"),  # 0.5 × 1 + 2
        ("10", "12"),  # on the bound: still the first tier, 10 × 1 + 2
        ("10.001", "10.0005"),  # second tier for every unit: 10.001 × 0.5 + 5
        ("20", "15"),  # on the bound: 20 × 0.5 + 5
        ("21", "2.1"),  # 21 × 0.1 + 0
    ],
)
def test_volume_prices_every_unit_at_the_tier_holding_the_quantity(quantity, expected):
    assert charge_amount(tiered("volume", *TIERS), D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("30", "0"),  # below the free units: max(30 − 50, 0) = 0 packages
        ("50", "0"),  # exactly the free units
        ("51", "5.00"),  # ceil(1 / 100) = 1
        ("150", "5.00"),  # ceil(100 / 100) = 1
        ("150.5", "10.00"),  # ceil(100.5 / 100) = 2
        ("251", "15.00"),  # ceil(201 / 100) = 3
    ],
)
def test_package_bills_whole_packages_after_the_free_units(quantity, expected):
    assert charge_amount(package("100", "5.00", free="50"), D(quantity)) == D(expected)


def test_package_without_free_units_and_with_a_fractional_size():
    assert charge_amount(package("100", "5.00"), D("1")) == D("5.00")  # ceil(0.01) = 1
    assert charge_amount(package("100", "5.00"), D("100")) == D("5.00")
    assert charge_amount(package("100", "5.00"), D("101")) == D("10.00")
    assert charge_amount(package("0.5", "1"), D("1.2")) == D("3")  # ceil(2.4) = 3


def test_negative_quantity_is_priced_by_the_formulas_as_written():
    # A chosen reading (a `sum` of negative values): per_unit is q × price; no graduated or
    # volume tier holds a negative quantity, and package takes max(q − free, 0).
    assert charge_amount(per_unit("2"), D("-3")) == D("-6")
    assert charge_amount(tiered("graduated", *TIERS), D("-3")) == 0
    assert charge_amount(tiered("volume", *TIERS), D("-3")) == 0
    assert charge_amount(package("1", "5"), D("-3")) == 0


# ---------------------------------------------------------------------------------------------
# Money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),  # exactly half a cent: away from zero
        ("-0.005", "USD", "-0.01"),
        ("0.0049999", "USD", "0.00"),
        ("2.675", "EUR", "2.68"),  # the float 2.675 is below the half; the decimal is not
        ("-2.665", "GBP", "-2.67"),
        ("489.5", "JPY", "490"),
        ("-0.5", "JPY", "-1"),
        ("0.49", "JPY", "0"),
    ],
)
def test_round_money_rounds_half_away_from_zero(amount, currency, expected):
    rounded = round_money(D(amount), currency)
    assert rounded == D(expected)
    assert str(rounded) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("49", "USD", "49.00"),
        ("-10", "USD", "-10.00"),
        ("0", "USD", "0.00"),
        ("-0.001", "USD", "0.00"),  # never "-0.00"
        ("1E+1", "USD", "10.00"),  # no exponent
        ("490", "JPY", "490"),
        ("4.9E+2", "JPY", "490"),
        ("-0.2", "JPY", "0"),
        ("3.60", "EUR", "3.60"),
    ],
)
def test_money_text_has_exactly_the_currency_decimals(amount, currency, expected):
    assert money_text(D(amount), currency) == expected


# ---------------------------------------------------------------------------------------------
# The contract's example invoice


def test_the_contract_example_invoice_to_the_cent():
    tokens = Charge("tokens", per_unit("0.000002"), group_prices={"gpt-large": per_unit("0.00003")})
    pro = version(fees=(("platform", "49.00"),), charges=(tokens,), minimum="100.00")
    acme = customer(
        sub(date(2026, 10, 1), discounts=(Discount("percentage", D("10")),)), tax="0.20"
    )
    cat = catalog((pro,), (acme,), (grant("g1", "500.00", expires=date(2026, 12, 31)),))
    events = [ev("t1", "gen", model="gpt-large", n="120000")]
    sid = {"subscription_id": "acme:pro:2026-10-01"}
    assert reference_invoices(events, cat, OCT) == [
        {
            "customer_id": "acme",
            "period": OCT,
            "currency": "USD",
            "lines": [
                # a full month: 49.00 × 31/31
                {"kind": "fixed_fee", "code": "platform", "group": None, **PRO_FIELDS, **sid,
                 "quantity": "1", "amount": "49.00"},
                # 120000 × 0.00003 = 3.60 (the group's price, not 0.000002)
                {"kind": "usage", "code": "tokens", "group": "gpt-large", **PRO_FIELDS, **sid,
                 "quantity": "120000", "amount": "3.60"},
                # 100.00 − (49.00 + 3.60) = 47.40
                {"kind": "minimum_commitment", "code": None, **PRO_FIELDS, **sid, "amount": "47.40"},
                # 10% of 100.00
                {"kind": "discount", "code": None, **PRO_FIELDS, **sid, "amount": "-10.00"},
                # (100.00 − 10.00) × 0.20
                {"kind": "tax", "code": None, "amount": "18.00"},
                # 90.00 + 18.00, all paid by the grant
                {"kind": "credit", "code": "g1", "amount": "-108.00"},
            ],
            "charges": "52.60",
            "subtotal": "100.00",
            "discount": "10.00",
            "tax": "18.00",
            "credits_applied": "108.00",
            "total": "0.00",
        }
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Which invoices and which lines


def test_only_customers_with_an_active_subscription_are_invoiced_sorted_by_id():
    pro = version(fees=(("platform", "10.00"),), charges=(Charge("calls", per_unit("1")),))
    customers = (
        customer(sub(date(2026, 1, 1), customer="zed")),
        customer(sub(date(2026, 1, 1), customer="acme")),  # no events: still invoiced
        customer(sub(date(2026, 1, 1), date(2026, 10, 1), customer="bob")),  # end is exclusive
        customer(sub(date(2026, 11, 1), customer="carl")),  # starts after the period
    )
    events = [ev(f"z{i}", who="zed") for i in range(3)]
    invoices = reference_invoices(events, catalog((pro,), customers), OCT)
    assert [i["customer_id"] for i in invoices] == ["acme", "zed"]
    acme, zed = invoices
    # the charge has a line with quantity 0 even with no event
    assert [(line["code"], line["quantity"], line["amount"]) for line in acme["lines"]] == [
        ("platform", "1", "10.00"),
        ("calls", "0", "0.00"),
    ]
    assert totals(acme) == ("10.00", "10.00", "0.00", "0.00", "0.00", "10.00")
    assert totals(zed) == ("13.00", "13.00", "0.00", "0.00", "0.00", "13.00")  # 10 + 3 × 1


def test_an_invoice_at_total_zero_still_exists():
    pro = version(charges=(Charge("calls", per_unit("1")),))
    invoice = only_invoice([], catalog((pro,), (customer(sub(date(2026, 10, 31))),)))
    assert amounts(invoice) == [("usage", "calls", "0.00")]
    assert totals(invoice) == ("0.00",) * 6


def test_fixed_fees_and_charges_keep_catalog_order():
    pro = version(
        fees=(("zeta", "2.00"), ("alpha", "1.00")),
        charges=(Charge("gb", per_unit("0.5")), Charge("calls", per_unit("0.25"))),
    )
    events = [*calls(3), ev("s1", "store", n="0.10"), ev("s2", "store", n="0.20")]
    invoice = only_invoice(events, catalog((pro,), (customer(sub(date(2026, 1, 1))),)))
    assert [(line["code"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        ("zeta", "1", "2.00"),
        ("alpha", "1", "1.00"),
        ("gb", "0.3", "0.15"),  # 0.10 + 0.20 = 0.3, written exactly; × 0.5 = 0.15
        ("calls", "3", "0.75"),  # 3 × 0.25
    ]
    assert invoice["charges"] == "3.90"


def test_corrections_other_customers_and_other_periods_do_not_count():
    pro = version(charges=(Charge("calls", per_unit("1")),))
    cat = catalog(
        (pro,), (customer(sub(date(2026, 1, 1))), customer(sub(date(2026, 1, 1), customer="bob")))
    )
    events = [
        ev("e1"),
        ev("e2"),
        Event("acme", "e3", "api", at("2026-10-16"), {}, replaces="e2"),  # counts instead of e2
        Event("acme", "e4", "api", at("2026-10-16"), {}, replaces="e1", void=True),  # neither
        ev("e5", when="2026-09-30T23:59:59.999"),  # September
        ev("e6", when="2026-11-01T00:00:00"),  # November
        ev("e7", when="2026-10-01T00:00:00"),  # the first instant of October counts
        ev("b1", who="bob"),
    ]
    acme, bob = reference_invoices(events, cat, OCT)
    assert [(line["quantity"], line["amount"]) for line in acme["lines"]] == [("2", "2.00")]
    assert [(line["quantity"], line["amount"]) for line in bob["lines"]] == [("1", "1.00")]


# ---------------------------------------------------------------------------------------------
# Proration


def test_a_subscription_starting_on_the_31st_pays_one_day_of_31():
    pro = version(
        fees=(("platform", "49.00"),),
        charges=(Charge("calls", per_unit("0.10")),),
        minimum="100.00",
    )
    cat = catalog((pro,), (customer(sub(date(2026, 1, 31))),))
    events = [
        ev("early", when="2026-01-30T23:59:59.999"),  # before the start: not counted
        *calls(2, when="2026-01-31T00:00:00"),
    ]
    invoice = only_invoice(events, cat, "2026-01")
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "1.58"),  # 49.00 × 1/31 = 1.5806…
        ("usage", "calls", "0.20"),  # 2 × 0.10
        ("minimum_commitment", None, "1.45"),  # round(100.00 × 1/31 = 3.2258…) − 1.78
    ]
    assert totals(invoice) == ("1.78", "3.23", "0.00", "0.00", "0.00", "3.23")
    assert invoice["lines"][1]["quantity"] == "2"


@pytest.mark.parametrize(
    ("start", "end", "period", "expected"),
    [
        (date(2027, 2, 15), None, "2027-02", "5.00"),  # 10.00 × 14/28
        (date(2028, 2, 15), None, "2028-02", "5.17"),  # 10.00 × 15/29 = 5.1724…
        (date(2027, 2, 1), date(2027, 2, 15), "2027-02", "5.00"),  # 10.00 × 14/28
        (date(2028, 2, 1), date(2028, 2, 2), "2028-02", "0.34"),  # 10.00 × 1/29 = 0.3448…
        (date(2027, 2, 15), None, "2027-03", "10.00"),  # a whole month
        (date(2026, 4, 16), None, "2026-04", "5.00"),  # 10.00 × 15/30
    ],
)
def test_fixed_fees_are_prorated_by_days_of_the_month(start, end, period, expected):
    pro = version(fees=(("platform", "10.00"),))
    invoice = only_invoice([], catalog((pro,), (customer(sub(start, end)),)), period)
    assert amounts(invoice) == [("fixed_fee", "platform", expected)]


def test_a_plan_change_on_the_15th_restarts_tiers_and_shares_one_invoice():
    free_ten = tiered("graduated", ("10", "0"), (None, "1"))
    starter = version("starter", fees=(("base", "31.00"),), charges=(Charge("calls", free_ten),))
    pro = version("pro", fees=(("base", "62.00"),), charges=(Charge("calls", free_ten),))
    changed = date(2026, 1, 15)
    # listed pro first: lines still go in order of start
    acme = customer(sub(changed, plan="pro"), sub(date(2026, 1, 1), changed, plan="starter"))
    events = [
        *calls(11, "2026-01-05", "a"),
        ev("a-last", when="2026-01-14T23:59:59.999"),  # starter's
        ev("b-first", when="2026-01-15T00:00:00"),  # pro's
        *calls(11, "2026-01-20", "b"),
    ]
    invoice = only_invoice(events, catalog((starter, pro), (acme,)), "2026-01")
    assert [
        (line["plan"], line["code"], line["quantity"], line["amount"]) for line in invoice["lines"]
    ] == [
        ("starter", "base", "1", "14.00"),  # 31.00 × 14/31
        ("starter", "calls", "12", "2.00"),  # 10 free, 2 × 1
        ("pro", "base", "1", "34.00"),  # 62.00 × 17/31
        ("pro", "calls", "12", "2.00"),  # tiers restart: 10 free again, 2 × 1 (not 14)
    ]
    assert [line["subscription_id"] for line in invoice["lines"]] == [
        "acme:starter:2026-01-01",
        "acme:starter:2026-01-01",
        "acme:pro:2026-01-15",
        "acme:pro:2026-01-15",
    ]
    assert totals(invoice) == ("52.00", "52.00", "0.00", "0.00", "0.00", "52.00")


# ---------------------------------------------------------------------------------------------
# Minimum commitment


def test_minimum_commitment_trues_up_only_when_charges_fall_short():
    pro = version(
        fees=(("platform", "49.00"),), charges=(Charge("calls", per_unit("1")),), minimum="100.00"
    )
    cat = catalog((pro,), (customer(sub(date(2026, 1, 1))),))
    short = only_invoice(calls(3), cat)
    assert amounts(short)[-1] == ("minimum_commitment", None, "48.00")  # 100 − (49 + 3)
    assert totals(short) == ("52.00", "100.00", "0.00", "0.00", "0.00", "100.00")
    exact = only_invoice(calls(51), cat)  # 49 + 51 = 100: no line
    assert [line["kind"] for line in exact["lines"]] == ["fixed_fee", "usage"]
    assert totals(exact) == ("100.00", "100.00", "0.00", "0.00", "0.00", "100.00")
    over = only_invoice(calls(71), cat)  # 120 > 100
    assert totals(over) == ("120.00", "120.00", "0.00", "0.00", "0.00", "120.00")


def test_minimum_commitment_is_prorated_like_a_fixed_fee():
    pro = version(fees=(("platform", "30.00"),), minimum="100.00")
    invoice = only_invoice([], catalog((pro,), (customer(sub(date(2026, 4, 16))),)), "2026-04")
    # 15 days of 30: fee 30.00 × 15/30 = 15.00, minimum 100.00 × 15/30 = 50.00
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "15.00"),
        ("minimum_commitment", None, "35.00"),
    ]
    assert totals(invoice) == ("15.00", "50.00", "0.00", "0.00", "0.00", "50.00")


# ---------------------------------------------------------------------------------------------
# Discounts


def test_a_percentage_discount_expires_after_its_months():
    pro = version(fees=(("platform", "100.00"),))
    ten_pct_two_months = Discount("percentage", D("10"), months=2)
    cat = catalog((pro,), (customer(sub(date(2026, 1, 15), discounts=(ten_pct_two_months,))),))
    january = only_invoice([], cat, "2026-01")  # index 0, 17 days of 31
    assert amounts(january) == [
        ("fixed_fee", "platform", "54.84"),  # 100 × 17/31 = 54.8387…
        ("discount", None, "-5.48"),  # 10% of 54.84 = 5.484
    ]
    assert totals(january) == ("54.84", "54.84", "5.48", "0.00", "0.00", "49.36")
    february = only_invoice([], cat, "2026-02")  # index 1
    assert amounts(february)[-1] == ("discount", None, "-10.00")
    assert february["total"] == "90.00"
    march = only_invoice([], cat, "2026-03")  # index 2: expired
    assert [line["kind"] for line in march["lines"]] == ["fixed_fee"]
    assert totals(march) == ("100.00", "100.00", "0.00", "0.00", "0.00", "100.00")


def test_a_one_month_discount_on_a_subscription_starting_the_31st_is_used_up_in_one_day():
    pro = version(fees=(("platform", "31.00"),))
    one_month = Discount("fixed", D("5.00"), months=1)
    cat = catalog((pro,), (customer(sub(date(2026, 1, 31), discounts=(one_month,))),))
    assert amounts(only_invoice([], cat, "2026-01")) == [
        ("fixed_fee", "platform", "1.00"),  # 31 × 1/31
        ("discount", None, "-1.00"),  # min(5.00, 1.00)
    ]
    assert only_invoice([], cat, "2026-02")["discount"] == "0.00"


def test_percentages_apply_before_fixed_amounts_whatever_the_catalog_order():
    pro = version(fees=(("platform", "100.00"),))
    discounts = (
        Discount("fixed", D("20.00")),
        Discount("percentage", D("10")),
        Discount("percentage", D("50")),
    )
    invoice = only_invoice(
        [], catalog((pro,), (customer(sub(date(2026, 1, 1), discounts=discounts)),))
    )
    assert amounts(invoice)[1:] == [
        ("discount", None, "-10.00"),  # 10% of 100 → 90 left
        ("discount", None, "-45.00"),  # 50% of 90 → 45 left
        ("discount", None, "-20.00"),  # then the fixed 20 → 25 left (fixed first would give 36)
    ]
    assert totals(invoice) == ("100.00", "100.00", "75.00", "0.00", "0.00", "25.00")


def test_a_fixed_discount_never_takes_the_subtotal_below_zero():
    pro = version(fees=(("platform", "30.00"),))
    discounts = (Discount("fixed", D("50.00")), Discount("fixed", D("5.00")))
    cat = catalog((pro,), (customer(sub(date(2026, 1, 1), discounts=discounts), tax="0.20"),))
    invoice = only_invoice([], cat)
    # the first takes all 30.00; the second takes 0 and has no line; tax 0 × 0.20 still a line
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "30.00"),
        ("discount", None, "-30.00"),
        ("tax", None, "0.00"),
    ]
    assert totals(invoice) == ("30.00", "30.00", "30.00", "0.00", "0.00", "0.00")


def test_discounts_apply_to_the_subtotal_with_the_minimum_per_subscription():
    starter = version("starter", fees=(("base", "31.00"),), minimum="62.00")
    pro = version("pro", fees=(("base", "62.00"),))
    changed = date(2026, 1, 15)
    acme = customer(
        sub(
            date(2026, 1, 1), changed, plan="starter", discounts=(Discount("percentage", D("50")),)
        ),
        sub(changed, plan="pro", discounts=(Discount("fixed", D("1.00")),)),
    )
    invoice = only_invoice([], catalog((starter, pro), (acme,)), "2026-01")
    assert amounts(invoice) == [
        ("fixed_fee", "base", "14.00"),  # 31 × 14/31
        ("minimum_commitment", None, "14.00"),  # 62 × 14/31 = 28.00, less 14.00
        ("discount", None, "-14.00"),  # 50% of starter's subtotal 28.00
        ("fixed_fee", "base", "34.00"),  # 62 × 17/31
        ("discount", None, "-1.00"),
    ]
    assert totals(invoice) == ("48.00", "62.00", "15.00", "0.00", "0.00", "47.00")


# ---------------------------------------------------------------------------------------------
# Tax


@pytest.mark.parametrize(
    ("fee", "rate", "tax", "total"),
    [
        ("12.34", "0.0825", "1.02", "13.36"),  # 12.34 × 0.0825 = 1.01805
        ("0.10", "0.05", "0.01", "0.11"),  # 0.10 × 0.05 = 0.005: half away from zero
        ("0.10", "0.04", "0.00", "0.10"),  # 0.004
    ],
)
def test_tax_is_the_rounded_taxable_amount_times_the_rate(fee, rate, tax, total):
    pro = version(fees=(("platform", fee),))
    invoice = only_invoice([], catalog((pro,), (customer(sub(date(2026, 1, 1)), tax=rate),)))
    assert amounts(invoice) == [("fixed_fee", "platform", fee), ("tax", None, tax)]
    assert (invoice["tax"], invoice["total"]) == (tax, total)


def test_tax_is_on_the_subtotal_less_the_discount():
    pro = version(fees=(("platform", "100.00"),))
    acme = customer(sub(date(2026, 1, 1), discounts=(Discount("fixed", D("20.00")),)), tax="0.25")
    invoice = only_invoice([], catalog((pro,), (acme,)))
    # (100 − 20) × 0.25 = 20.00
    assert totals(invoice) == ("100.00", "100.00", "20.00", "20.00", "0.00", "100.00")


# ---------------------------------------------------------------------------------------------
# Credits


MONTHLY_100 = version(fees=(("platform", "100.00"),))
JAN_1 = date(2026, 1, 1)


def credited(
    grants: tuple[CreditGrant, ...],
    period: str = OCT,
    tax: str = "0",
    start: date = date(2026, 10, 1),
) -> dict:
    """The invoice of a 100.00 monthly fee from `start` (default: October, no earlier period)."""
    cat = catalog((MONTHLY_100,), (customer(sub(start), tax=tax),), grants)
    return only_invoice([], cat, period)


def test_credits_pay_the_taxed_amount_and_never_more():
    invoice = credited((grant("g1", "1000.00"),), tax="0.20")
    assert amounts(invoice)[1:] == [("tax", None, "20.00"), ("credit", "g1", "-120.00")]
    assert totals(invoice) == ("100.00", "100.00", "0.00", "20.00", "120.00", "0.00")


def test_a_grant_expiring_before_the_period_ends_is_not_usable_that_period():
    grants = (
        grant("expired", "1000.00", expires=date(2026, 10, 30)),  # the day before the last
        grant("lastday", "10.00", expires=date(2026, 10, 31), priority=5),  # usable
        grant("future", "1000.00", effective=date(2026, 11, 1)),  # not yet effective
        grant(
            "late", "5.00", effective=date(2026, 10, 31), priority=6
        ),  # effective on the last day
    )
    invoice = credited(grants, start=date(2026, 9, 1))
    assert amounts(invoice)[1:] == [("credit", "lastday", "-10.00"), ("credit", "late", "-5.00")]
    assert totals(invoice) == ("100.00", "100.00", "0.00", "0.00", "15.00", "85.00")
    # in September the grant expiring on 2026-10-30 is still usable and pays everything
    september = credited(grants, "2026-09", start=date(2026, 9, 1))
    assert amounts(september)[1:] == [("credit", "expired", "-100.00")]


def test_a_large_grant_carries_its_balance_across_three_periods():
    grants = (grant("g1", "250.00"),)
    # January 100, February 100, March the last 50, April nothing left
    assert (
        credited(grants, "2026-03", start=JAN_1)["credits_applied"] == "50.00"
    )  # asked first: pure
    assert amounts(credited(grants, "2026-01", start=JAN_1))[1:] == [("credit", "g1", "-100.00")]
    assert amounts(credited(grants, "2026-02", start=JAN_1))[1:] == [("credit", "g1", "-100.00")]
    march = credited(grants, "2026-03", start=JAN_1)
    assert amounts(march)[1:] == [("credit", "g1", "-50.00")]
    assert totals(march) == ("100.00", "100.00", "0.00", "0.00", "50.00", "50.00")
    april = credited(grants, "2026-04", start=JAN_1)
    assert [line["kind"] for line in april["lines"]] == ["fixed_fee"]
    assert totals(april) == ("100.00", "100.00", "0.00", "0.00", "0.00", "100.00")


def test_a_grant_balance_skips_periods_without_a_subscription():
    acme = customer(sub(date(2026, 1, 1), date(2026, 3, 1)), sub(date(2026, 4, 1)))
    cat = catalog((MONTHLY_100,), (acme,), (grant("g1", "250.00"),))
    assert reference_invoices([], cat, "2026-03") == []
    # 250 − 100 (January) − 100 (February) = 50 left for April
    assert amounts(only_invoice([], cat, "2026-04"))[1:] == [("credit", "g1", "-50.00")]


def test_grants_with_lower_priority_number_are_used_first():
    invoice = credited((grant("big", "1000.00", priority=2), grant("small", "30.00", priority=1)))
    assert amounts(invoice)[1:] == [("credit", "small", "-30.00"), ("credit", "big", "-70.00")]
    assert totals(invoice) == ("100.00", "100.00", "0.00", "0.00", "100.00", "0.00")


def test_grant_ties_break_on_expiry_then_effective_then_id():
    grants = (
        grant("a", "30.00", priority=2),
        grant("b", "20.00", priority=1),  # never expires: after every expiring one
        grant("e", "20.00", priority=1, effective=date(2026, 6, 1), expires=date(2026, 12, 31)),
        grant("c", "20.00", priority=1, effective=date(2026, 6, 1), expires=date(2026, 12, 31)),
        grant("d", "20.00", priority=1, effective=date(2026, 1, 1), expires=date(2026, 12, 31)),
        grant("f", "20.00", priority=1, expires=date(2026, 11, 30)),  # expires first
    )
    invoice = credited(grants)
    assert amounts(invoice)[1:] == [
        ("credit", "f", "-20.00"),
        ("credit", "d", "-20.00"),  # earlier effective
        ("credit", "c", "-20.00"),  # same effective: id
        ("credit", "e", "-20.00"),
        ("credit", "b", "-20.00"),  # 100 paid: "a" takes nothing and has no line
    ]
    assert invoice["total"] == "0.00"


# ---------------------------------------------------------------------------------------------
# Currencies and rounding


def test_jpy_amounts_have_no_decimals():
    pro = version(
        fees=(("platform", "4900"),),
        charges=(Charge("calls", per_unit("0.5")),),
        minimum="3000",
        currency="JPY",
    )
    acme = customer(sub(date(2026, 1, 15), discounts=(Discount("percentage", D("5")),)), tax="0.10")
    cat = catalog((pro,), (acme,), (grant("g1", "1000"),))
    invoice = only_invoice(calls(3, "2026-01-20"), cat, "2026-01")
    assert invoice["currency"] == "JPY"
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "2687"),  # 4900 × 17/31 = 2687.096…
        ("usage", "calls", "2"),  # 3 × 0.5 = 1.5: half away from zero
        # minimum 3000 × 17/31 = 1645.16… → 1645 < 2689: no line
        ("discount", None, "-134"),  # 5% of 2689 = 134.45
        ("tax", None, "256"),  # (2689 − 134) × 0.10 = 255.5
        ("credit", "g1", "-1000"),
    ]
    # 2555 + 256 − 1000
    assert totals(invoice) == ("2689", "2689", "134", "256", "1000", "1811")


def test_a_half_minor_unit_rounds_away_from_zero_on_every_line():
    fee_pro = version(fees=(("platform", "0.01"),), charges=(Charge("calls", per_unit("0.001")),))
    cat = catalog((fee_pro,), (customer(sub(date(2026, 4, 16))),))
    invoice = only_invoice(calls(5, "2026-04-20"), cat, "2026-04")
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "0.01"),  # 0.01 × 15/30 = 0.005
        ("usage", "calls", "0.01"),  # 5 × 0.001 = 0.005
    ]
    # a discount of exactly half a cent: 10% of 0.05 = 0.005, a line of -0.01
    pro = version(charges=(Charge("calls", per_unit("0.01")),))
    acme = customer(sub(date(2026, 1, 1), discounts=(Discount("percentage", D("10")),)))
    invoice = only_invoice(calls(5), catalog((pro,), (acme,)))
    assert amounts(invoice) == [("usage", "calls", "0.05"), ("discount", None, "-0.01")]
    assert totals(invoice) == ("0.05", "0.05", "0.01", "0.00", "0.00", "0.04")


def test_a_usage_line_is_rounded_once_for_the_whole_charge_not_per_tier():
    graduated = tiered("graduated", ("10", "0.0003"), (None, "0.0003"))
    pro = version(charges=(Charge("calls", graduated),))
    invoice = only_invoice(calls(20), catalog((pro,), (customer(sub(date(2026, 1, 1))),)))
    # 10 × 0.0003 + 10 × 0.0003 = 0.006 → 0.01 (per tier: 0.00 + 0.00)
    assert amounts(invoice) == [("usage", "calls", "0.01")]


# ---------------------------------------------------------------------------------------------
# Groups and overrides


def test_group_prices_apply_per_group_value_with_one_line_each_ordered_by_text():
    tokens = Charge("tokens", per_unit("0.000002"), group_prices={"gpt-large": per_unit("0.00003")})
    pro = version(charges=(tokens,))
    events = [
        ev("t1", "gen", model="gpt-small", n="600000"),
        ev("t2", "gen", model="gpt-small", n="400000"),
        ev("t3", "gen", model="gpt-large", n="120000"),
        ev("t4", "gen", model="Zeta", n="2500"),
        ev("t5", "gen", n="999999"),  # no group value: left out
    ]
    invoice = only_invoice(events, catalog((pro,), (customer(sub(date(2026, 1, 1))),)))
    assert [(line["group"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        ("Zeta", "2500", "0.01"),  # 2500 × 0.000002 = 0.005; "Z" sorts before "g" as text
        ("gpt-large", "120000", "3.60"),  # 120000 × 0.00003
        ("gpt-small", "1000000", "2.00"),  # 1000000 × 0.000002
    ]
    assert invoice["charges"] == "5.61"


def test_a_grouped_charge_without_events_has_one_line_without_group():
    pro = version(charges=(Charge("tokens", per_unit("1")),))
    invoice = only_invoice([], catalog((pro,), (customer(sub(date(2026, 1, 1))),)))
    line = invoice["lines"][0]
    assert (line["kind"], line["code"], line["group"], line["quantity"], line["amount"]) == (
        "usage",
        "tokens",
        None,
        "0",
        "0.00",
    )


def test_per_customer_overrides_replace_prices_fees_and_minimum():
    tokens = Charge("tokens", per_unit("0.000002"), group_prices={"gpt-large": per_unit("0.00003")})
    calls_charge = Charge("calls", tiered("graduated", ("1000", "0"), (None, "0.001")))
    pro = version(fees=(("platform", "49.00"),), charges=(calls_charge, tokens), minimum="100.00")
    overrides = Overrides(
        charges={"calls": per_unit("0.0008"), "tokens": per_unit("0.000001")},
        fixed_fees={"platform": D("39.00")},
        minimum_amount=D("0"),
    )
    customers = (
        customer(sub(date(2026, 1, 1), overrides=overrides)),
        customer(sub(date(2026, 1, 1), customer="bob")),
    )
    events = [
        *calls(2000),
        ev("t1", "gen", model="gpt-small", n="1000000"),
        ev("t2", "gen", model="gpt-large", n="120000"),
        *[ev(f"bc{i}", who="bob") for i in range(2000)],
        ev("bt1", "gen", who="bob", model="gpt-small", n="1000000"),
    ]
    acme, bob = reference_invoices(events, catalog((pro,), customers), OCT)
    assert amounts(acme) == [
        ("fixed_fee", "platform", "39.00"),  # the override's amount
        ("usage", "calls", "1.60"),  # 2000 × 0.0008 (not graduated: 1000 × 0.001 = 1.00)
        ("usage", "tokens", "3.60"),  # the group price still wins: 120000 × 0.00003
        ("usage", "tokens", "1.00"),  # gpt-small at the override: 1000000 × 0.000001
        # minimum overridden to 0: no line
    ]
    assert totals(acme) == ("45.20", "45.20", "0.00", "0.00", "0.00", "45.20")
    assert amounts(bob) == [
        ("fixed_fee", "platform", "49.00"),
        ("usage", "calls", "1.00"),  # graduated: 1000 free, 1000 × 0.001
        ("usage", "tokens", "2.00"),  # 1000000 × 0.000002
        ("minimum_commitment", None, "48.00"),  # 100 − 52
    ]


def test_a_minimum_override_replaces_the_plan_minimum():
    pro = version(fees=(("platform", "49.00"),), minimum="100.00")
    acme = customer(sub(date(2026, 1, 1), overrides=Overrides(minimum_amount=D("60.00"))))
    invoice = only_invoice([], catalog((pro,), (acme,)))
    assert amounts(invoice) == [
        ("fixed_fee", "platform", "49.00"),
        ("minimum_commitment", None, "11.00"),
    ]


def test_line_fields_are_exactly_the_documented_ones():
    tokens = Charge("tokens", per_unit("1"))
    pro = version(fees=(("platform", "1.00"),), charges=(tokens,), minimum="5.00")
    acme = customer(sub(date(2026, 1, 1), discounts=(Discount("fixed", D("1")),)), tax="0.1")
    cat = catalog((pro,), (acme,), (grant("g1", "100"),))
    invoice = only_invoice([ev("t", "gen", model="m", n="1")], cat)
    common = ["plan", "plan_version", "subscription_id", "amount"]
    assert [sorted(line) for line in invoice["lines"]] == [
        sorted(["kind", "code", "group", "quantity", *common]),
        sorted(["kind", "code", "group", "quantity", *common]),
        sorted(["kind", "code", *common]),
        sorted(["kind", "code", *common]),
        ["amount", "code", "kind"],
        ["amount", "code", "kind"],
    ]
    assert [line["kind"] for line in invoice["lines"]] == [
        "fixed_fee",
        "usage",
        "minimum_commitment",  # 5 − 2 = 3
        "discount",
        "tax",
        "credit",
    ]
    assert sorted(invoice) == sorted(
        ["customer_id", "period", "currency", "lines", "charges", "subtotal", "discount", "tax",
         "credits_applied", "total"]
    )  # fmt: skip
    assert invoice["lines"][0]["plan_version"] == 1
    # 5.00 − 1.00 = 4.00; tax 0.40; credit 4.40
    assert totals(invoice) == ("2.00", "5.00", "1.00", "0.40", "4.40", "0.00")
