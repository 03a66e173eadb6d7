"""Several products at once (docs/invoicing.md, Several products): the catalog's rules with
the exact line a user reads, the invoice of a customer holding two products, grants limited
to a product against the reference rater, and migrations that keep to their product."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dagster.catalog.migration import Migration, migrate
from billing_dagster.catalog.model import (
    Catalog,
    CreditGrant,
    Customer,
    Discount,
    FixedFee,
    Plan,
    PlanVersion,
    Subscription,
)
from billing_dagster.entitlements.blocks import _block_on_today
from billing_dagster.invoicing.assemble import InvoiceBook, RatedUsage
from tests.catalogs import (
    PRODUCTS_CATALOG,
    PRODUCTS_OCTOBER_LINES,
    PRODUCTS_OCTOBER_TOTALS,
    VALID,
    products_events,
)
from tests.reference.rating import reference_invoices
from tests.reference.usage import reference_ingest
from tests.unit.test_catalog_validation import change as change_valid
from tests.unit.test_catalog_validation import problems
from tests.unit.test_catalog_validation import problems_free as validated

D = Decimal


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def change(old: str, new: str, text: str = PRODUCTS_CATALOG) -> str:
    return change_valid(old, new, text)


# -- the catalog --------------------------------------------------------------------------


def test_plans_of_two_products_overlap_and_a_grant_names_its_product():
    catalog = validated(PRODUCTS_CATALOG)

    assert [(p.code, p.product) for p in catalog.plans] == [
        ("api", "api"),
        ("storage", "storage"),
    ]
    assert [(g.id, g.product) for g in catalog.credit_grants] == [
        ("disk", "storage"),
        ("any", None),
    ]


def test_a_catalog_without_products_keeps_one_subscription_at_a_time():
    assert all(p.product is None for p in validated(VALID).plans)
    overlapping = VALID.replace("        end: 2026-06-15\n", "        end: 2026-06-16\n")

    assert problems(overlapping) == [
        "catalog.yaml:72: customers[0].subscriptions[1]: overlaps subscriptions[0] (pro from "
        "2026-01-15); a customer has at most one active subscription at a time, so end one "
        "where the next starts"
    ]


CASES = {
    "one product at a time": (
        change(
            "      - {plan: storage, start: 2026-09-01,",
            "      - {plan: api, start: 2026-11-30, end: 2026-12-01}\n"
            "      - {plan: storage, start: 2026-09-01,",
        ),
        [
            "catalog.yaml:32: customers[0].subscriptions[1]: overlaps subscriptions[0] (api "
            'from 2026-10-16), also of product "api"; a customer has at most one active '
            "subscription per product at a time, so end one where the next starts"
        ],
    ),
    "a plan without product is another product": (
        change("    product: api\n", ""),
        [],
    ),
    "a metric charged by two products": (
        change("charges: [{metric: stored_gb,", "charges: [{metric: calls,"),
        [
            'catalog.yaml:32: customers[0].subscriptions[1]: charges metric "calls", as '
            "subscriptions[0] (api from 2026-10-16) does on the same days; each belongs to "
            "one product, so remove it from one of the two plans"
        ],
    ),
    "a feature offered by two products": (
        change("[{feature: sso, enabled: true}]", "[{feature: calls, enabled: true}]"),
        [
            'catalog.yaml:32: customers[0].subscriptions[1]: offers feature "calls", as '
            "subscriptions[0] (api from 2026-10-16) does on the same days; each belongs to "
            "one product, so remove it from one of the two plans"
        ],
    ),
    "products apart in time may share": (
        change(
            "      - {plan: storage, start: 2026-09-01, discounts:",
            "      - {plan: storage, start: 2026-09-01, end: 2026-10-16, discounts:",
            change("[{feature: sso, enabled: true}]", "[{feature: calls, enabled: true}]"),
        ),
        [],
    ),
    "unknown grant product": (
        change("product: storage}", "product: disk}"),
        [
            'catalog.yaml:34: credit_grants[0].product: unknown product "disk"; the plans\' '
            "products are api, storage"
        ],
    ),
    "product is a string": (
        change("    product: api\n", "    product: 7\n"),
        ['catalog.yaml:7: plans[0].product: must be a string: write it in quotes ("7")'],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_each_product_rule_reports_file_line_path_and_remedy(text, expected):
    if expected:
        assert problems(text) == expected
    else:
        validated(text)


def test_a_grant_product_needs_plans_with_products():
    text = VALID.replace("priority: 1}", "priority: 1, product: api}")

    assert problems(text) == [
        'catalog.yaml:80: credit_grants[0].product: unknown product "api"; the plans\' '
        "products are none: give plans a product first"
    ]


# -- the invoice --------------------------------------------------------------------------


def october_usage(period: str) -> dict:
    """What `fct_rated_usage` holds for PRODUCTS_CATALOG's events of October 2026."""
    if period != "2026-10":
        return {}
    api, storage = "acme:api:2026-10-16", "acme:storage:2026-09-01"
    return {
        (api, "calls"): [RatedUsage(api, "calls", None, D(10), D("5.0"))],
        (storage, "stored_gb"): [RatedUsage(storage, "stored_gb", None, D(150), D("15.0"))],
    }


def summary(invoice: dict) -> tuple[list[tuple], dict]:
    lines = [(li["kind"], li["code"], li.get("plan"), li["amount"]) for li in invoice["lines"]]
    return lines, {key: invoice[key] for key in PRODUCTS_OCTOBER_TOTALS}


def test_one_invoice_holds_both_products_each_with_its_minimum_and_discount():
    catalog = validated(PRODUCTS_CATALOG)

    [invoice] = InvoiceBook(catalog, october_usage).invoices("2026-10")

    assert invoice["invoice_id"] == "INV-2026-10-acme"
    assert summary(invoice) == (PRODUCTS_OCTOBER_LINES, PRODUCTS_OCTOBER_TOTALS)
    assert invoice["plan_versions"] == ["api:1", "storage:1"]


def test_the_reference_rater_makes_the_same_invoice_from_the_events():
    catalog = validated(PRODUCTS_CATALOG)
    events = reference_ingest([[products_events()]], catalog).events

    [invoice] = reference_invoices(events, catalog, "2026-10")

    assert summary(invoice) == (PRODUCTS_OCTOBER_LINES, PRODUCTS_OCTOBER_TOTALS)


def test_a_product_grant_left_over_is_carried_and_pays_nothing_else():
    """In September only storage is held: `disk` pays all of it; `any` is not needed."""
    catalog = validated(PRODUCTS_CATALOG)
    book = InvoiceBook(catalog, october_usage)

    [september] = book.invoices("2026-09")

    assert [(li["code"], li["amount"]) for li in september["lines"][-2:]] == [
        (None, "1.50"),
        ("disk", "-16.50"),
    ]
    assert book.balances_after(catalog.customers[0], "2026-10") == {
        "disk": D("950.50"),
        "any": D("0.00"),
    }


# -- grants limited to a product, against the reference ---------------------------------

PERIODS = ("2026-09", "2026-10", "2026-11")
WINDOWS = [
    (date(2026, 9, 1), None),
    (date(2026, 9, 20), date(2026, 10, 15)),
    (date(2026, 10, 15), None),
    (date(2026, 10, 1), date(2026, 11, 10)),
]


def plan(code: str, product: str | None, fee: str, minimum: str | None) -> Plan:
    version = PlanVersion(
        code,
        1,
        date(2026, 1, 1),
        "USD",
        (FixedFee("fee", D(fee)),),
        D(minimum) if minimum else None,
    )
    return Plan(code, code, (version,), product)


@st.composite
def product_catalogs(draw) -> Catalog:
    """One customer on up to three products at once (one of them implicit), each with a
    fee, maybe a minimum and discounts, and grants limited to a product or not."""
    plans, subscriptions = [], []
    for product in (None, "api", "storage"):
        code = product or "base"
        fee = draw(st.sampled_from(["0", "9.99", "31.00", "100"]))
        plans.append(plan(code, product, fee, draw(st.sampled_from([None, "45.00"]))))
        if draw(st.booleans()):
            start, end = draw(st.sampled_from(WINDOWS))
            discounts = draw(
                st.lists(
                    st.sampled_from(
                        [
                            Discount("percentage", D("12.5"), None),
                            Discount("fixed", D("7.00"), 2),
                        ]
                    ),
                    max_size=2,
                )
            )
            subscriptions.append(
                Subscription(
                    f"c:{code}:{start}", "c", code, 1, start, end, discounts=tuple(discounts)
                )
            )
    tax = D(draw(st.sampled_from(["0", "0.2", "0.075"])))
    grants = tuple(
        CreditGrant(
            f"g{n}",
            "c",
            D(draw(st.sampled_from(["5.00", "40.00", "500"]))),
            date(2026, 1, 1),
            draw(st.sampled_from([None, date(2026, 10, 31)])),
            draw(st.integers(0, 1)),
            draw(st.sampled_from([None, "api", "storage"])),
        )
        for n in range(draw(st.integers(0, 3)))
    )
    customer = Customer("c", "C", tax, tuple(subscriptions))
    return Catalog((), tuple(plans), (customer,), grants)


REFERENCE_KEYS = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")


@settings(max_examples=300, deadline=None)
@given(catalog=product_catalogs())
def test_invoices_with_product_grants_equal_the_reference(catalog):
    book = InvoiceBook(catalog, lambda period: {})
    for period in PERIODS:
        invoices = book.invoices(period)
        expected = reference_invoices([], catalog, period)
        assert [
            ([{k: li[k] for k in ref} for li, ref in zip(i["lines"], e["lines"], strict=True)])
            for i, e in zip(invoices, expected, strict=True)
        ] == [e["lines"] for e in expected]
        assert [{k: i[k] for k in REFERENCE_KEYS} for i in invoices] == [
            {k: e[k] for k in REFERENCE_KEYS} for e in expected
        ]


# -- migrations keep to their product ----------------------------------------------------


def test_migrating_the_storage_plan_leaves_the_api_subscription_alone():
    """acme's API subscription is listed first and active on the date too."""
    text = PRODUCTS_CATALOG.replace(
        "        entitlements: [{feature: sso, enabled: true}]\n",
        "        entitlements: [{feature: sso, enabled: true}]\n"
        "      - version: 2\n        effective_from: 2026-11-01\n        currency: USD\n",
    )
    catalog = validated(text)
    migration = Migration("storage", 1, 2, date(2026, 11, 1), None)

    migrated = migrate(catalog, migration, None)

    assert migrated.moved == ("acme",)
    assert [(s.plan, s.version, s.start, s.end) for s in migrated.catalog.subscriptions] == [
        ("api", 1, date(2026, 10, 16), None),
        ("storage", 1, date(2026, 9, 1), date(2026, 11, 1)),
        ("storage", 2, date(2026, 11, 1), None),
    ]


def test_a_customer_is_blocked_on_the_conditions_of_all_its_plans_in_force():
    text = change(
        "        entitlements: [{feature: sso, enabled: true}]\n",
        "        entitlements: [{feature: sso, enabled: true}]\n        block_on: [dispute_lost]\n",
        change(
            '        minimum_amount: "62.00"\n',
            '        minimum_amount: "62.00"\n        block_on: [past_due]\n',
        ),
    )

    blocks = _block_on_today(validated(text), date(2026, 10, 20))

    assert blocks == {"acme": ("past_due", "dispute_lost")}
