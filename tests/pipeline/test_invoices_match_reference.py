"""`billing invoices` agrees to the cent with the pure-Python reference rater on randomized
catalogs and events: every charge model, group prices, overrides, proration, plan changes
mid-month, minimums, discounts, tax, credits carried across periods, USD, EUR and JPY, a
time-weighted metric whose values carry over between periods, a percentile, and several
products at once (a storage plan beside the API plans, grants limited to a product), and
customers in five time zones across DST changes (periods, proration and credit validity on
their calendars).

Each example runs the real pipeline (Dagster, dbt, ClickHouse) on a catalog that holds
several independent scenarios (plans, currency, customers), and bills two periods in reverse
order, so it also shows invoices do not depend on the order periods are billed in.
`REFERENCE_EXAMPLES=25` checks 25 × 8 = 200 scenarios.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

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
from tests.catalogs import ZONE_EDGES, ZONES, store
from tests.reference.rating import reference_invoices
from tests.reference.usage import reference_ingest
from tests.support import run, start_afresh

D = Decimal
METRICS = (
    Metric("calls", "api", "count", filters={"status": ("200",)}),
    Metric("tokens", "gen", "sum", "n", group_by="model"),
    Metric("storage", "disk", "max", "gb"),
    Metric("seats", "seat", "latest", "n"),
    Metric("users", "api", "count_unique", "user"),
    Metric("disk_hours", "disk", "time_weighted_sum", "gb", unit="hour"),
    Metric("disk_peak", "disk", "percentile", "gb", percentile=D(100), bucket="1h"),
)
#: Charged by the storage product's plans only: concurrent products never share a metric.
STORED = Metric("stored", "obj", "sum", "n")
PRICES = [
    Price("per_unit", unit_price=D("0.0015")),
    Price("per_unit", unit_price=D("12.5")),
    Price(
        "graduated",
        tiers=(Tier(D(3), D(0), D("1.50")), Tier(D(10), D("0.333")), Tier(None, D("0.005"))),
    ),
    Price("volume", tiers=(Tier(D(4), D("2.25")), Tier(None, D("1.125"), D("0.50")))),
    Price("package", package_size=D(5), package_price=D("2.50"), free_units=D(3)),
]
PERIODS = ("2026-11", "2026-10")  # billed in this order on purpose
STARTS = [date(2026, 8, 31), date(2026, 10, 1), date(2026, 10, 15), date(2026, 9, 20)]
INSTANTS = [
    "2026-09-30T23:59:59.999Z",
    "2026-10-01T00:00:00Z",
    "2026-10-14T23:59:59Z",
    "2026-10-15T00:00:00Z",
    "2026-10-31T23:30:00-01:00",
    "2026-11-01T00:00:00Z",
    "2026-11-20T10:00:00+05:30",
    *ZONE_EDGES,
]


@st.composite
def plan_versions(
    draw, code: str, currency: str, product: str | None = None, metrics=METRICS
) -> Plan:
    charges = tuple(
        Charge(
            metric.code,
            draw(st.sampled_from(PRICES)),
            {"large": draw(st.sampled_from(PRICES))}
            if metric.group_by and draw(st.booleans())
            else {},
        )
        for metric in metrics
        if draw(st.integers(0, 3))
    )
    fees = (FixedFee("platform", D(draw(st.sampled_from(["0", "9.99", "49.00", "1000"])))),)
    minimum = draw(st.sampled_from([None, D("25.00"), D("333.33")]))
    version = PlanVersion(code, 1, date(2026, 1, 1), currency, fees, minimum, charges)
    return Plan(code, code.title(), (version,), product)


@st.composite
def subscriptions(draw, customer: str, plans: tuple[Plan, ...]) -> tuple[Subscription, ...]:
    def one(plan: Plan, start: date, end: date | None) -> Subscription:
        overrides = Overrides()
        if draw(st.integers(0, 3)) == 0:
            metric = plan.versions[0].charges[0].metric if plan.versions[0].charges else None
            prices = {metric: PRICES[0]} if metric else {}
            overrides = Overrides(
                prices, {"platform": D("5.00")}, draw(st.sampled_from([None, D(0)]))
            )
        discounts = draw(
            st.lists(
                st.sampled_from(
                    [
                        Discount("percentage", D("10"), 2),
                        Discount("percentage", D("12.5"), None),
                        Discount("fixed", D("5.00"), None),
                        Discount("fixed", D("2000"), 1),
                    ]
                ),
                max_size=2,
            )
        )
        return Subscription(
            f"{customer}:{plan.code}:{start.isoformat()}",
            customer,
            plan.code,
            1,
            start,
            end,
            overrides,
            tuple(discounts),
        )

    storage = ()
    if draw(st.booleans()):  # another product held at the same time
        end = draw(st.sampled_from([None, date(2026, 10, 20)]))
        storage = (one(plans[2], draw(st.sampled_from(STARTS)), end),)
    if draw(st.booleans()):  # a plan change on the 15th
        return (
            one(plans[0], date(2026, 9, 1), date(2026, 10, 15)),
            one(plans[1], date(2026, 10, 15), None),
            *storage,
        )
    end = draw(st.sampled_from([None, date(2026, 11, 10)]))
    return (one(draw(st.sampled_from(plans[:2])), draw(st.sampled_from(STARTS)), end), *storage)


#: Scenarios per pipeline run: each is its own plans, currency and customers in one catalog,
#: so one example checks many independent catalogs for the cost of one pipeline run.
SCENARIOS = 8
CUSTOMERS = [f"s{s}c{c}" for s in range(SCENARIOS) for c in range(3)]


@st.composite
def catalogs(draw) -> Catalog:
    plans, customers, grants = [], [], []
    for scenario in range(SCENARIOS):
        currency = draw(st.sampled_from(["USD", "EUR", "JPY"]))
        api = draw(st.sampled_from([None, "api"]))  # None: the implicit product
        trio = (
            *(draw(plan_versions(f"{name}{scenario}", currency, api)) for name in ("basic", "pro")),
            draw(plan_versions(f"disk{scenario}", currency, "storage", (STORED,))),
        )
        plans += trio
        products = [None, "storage", *([api] if api else [])]
        for name in CUSTOMERS[scenario * 3 : scenario * 3 + 3]:
            tax = D(draw(st.sampled_from(["0", "0.2", "0.075"])))
            zone = draw(st.sampled_from(ZONES))
            held = draw(subscriptions(name, trio))
            customers.append(Customer(name, name, tax, held, timezone=zone))
            for number in range(draw(st.integers(0, 2))):
                grants.append(
                    CreditGrant(
                        f"{name}-g{number}",
                        name,
                        D(draw(st.sampled_from(["10.00", "75.50", "1000"]))),
                        draw(st.sampled_from([date(2026, 8, 1), date(2026, 10, 1)])),
                        draw(st.sampled_from([None, date(2026, 10, 30), date(2026, 11, 30)])),
                        draw(st.integers(0, 1)),
                        draw(st.sampled_from(products)),
                    )
                )
    return Catalog((*METRICS, STORED), tuple(plans), tuple(customers), tuple(grants))


@st.composite
def event_lines(draw) -> str:
    name = draw(st.sampled_from(["api", "gen", "disk", "seat", "obj"]))
    properties = {
        "api": lambda: {
            "status": draw(st.sampled_from(["200", "500"])),
            "user": draw(st.sampled_from(["u1", "u2", "u3"])),
        },
        "gen": lambda: {
            "model": draw(st.sampled_from(["small", "large"])),
            "n": draw(st.sampled_from([1, 3, "0.5", 2.25, 7])),
        },
        "disk": lambda: {"gb": draw(st.sampled_from([2, 3, 8, 12.5]))},
        "seat": lambda: {"n": draw(st.sampled_from([1, 4, 11]))},
        "obj": lambda: {"n": draw(st.sampled_from([2, "0.25", 40]))},
    }[name]()
    event = {
        "event_id": f"e{draw(st.integers(0, 40))}",
        "customer_id": draw(st.sampled_from(CUSTOMERS)),
        "event_name": name,
        "timestamp": draw(st.sampled_from(INSTANTS)),
        "properties": properties,
    }
    return json.dumps(event)


#: The line fields the reference computes, per kind; the product adds more (tiers, days).
LINE_KEYS = {
    "fixed_fee": ("kind", "code", "group", "plan", "plan_version", "subscription_id"),
    "usage": ("kind", "code", "group", "plan", "plan_version", "subscription_id"),
    "minimum_commitment": ("kind", "code", "plan", "plan_version", "subscription_id"),
    "discount": ("kind", "code", "plan", "plan_version", "subscription_id"),
    "tax": ("kind", "code"),
    "credit": ("kind", "code"),
}
INVOICE_KEYS = ("customer_id", "period", "currency", "charges", "subtotal", "discount", "tax")
INVOICE_KEYS += ("credits_applied", "total")
#: A customer off UTC: its zone and the period's bounds, local and UTC.
ZONE_KEYS = ("timezone", "period_start", "period_end", "period_start_utc", "period_end_utc")


def comparable(invoice: dict) -> dict:
    lines = []
    for line in invoice["lines"]:
        kept = {key: line[key] for key in LINE_KEYS[line["kind"]]}
        kept |= {key: line[key] for key in ("quantity", "amount") if key in line}
        lines.append(kept)
    zoned = {key: invoice[key] for key in ZONE_KEYS if key in invoice}
    return {**{key: invoice[key] for key in INVOICE_KEYS}, **zoned, "lines": lines}


@settings(
    max_examples=int(os.environ.get("REFERENCE_EXAMPLES", "3")),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # see test_usage_matches_reference
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(catalog=catalogs(), lines=st.lists(event_lines(), min_size=1, max_size=300))
def test_invoices_equal_the_reference(catalog, lines, client, database, home, tmp_path, capsys):
    start_afresh(client, database, home)
    store(client, database, catalog)
    events_file = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    events_file.write_text("\n".join(lines) + "\n")
    run(capsys, "ingest", str(events_file))
    events = reference_ingest([[events_file.read_text()]], catalog, datetime.now(UTC)).events
    for period in PERIODS:
        run(capsys, "bill", "--period", period)
    for period in PERIODS:
        invoices = json.loads(run(capsys, "invoices", "--period", period, "--format", "json"))
        expected = reference_invoices(events, catalog, period)
        assert [comparable(i) for i in invoices] == [comparable(i) for i in expected], period
