"""The workload every engine runs: one month of events for K customers, and their catalog.

The events are those of `benchmarks/ingest_and_metering.py` (the same SQL: tokens by model,
API calls with statuses and users, GPU jobs, seat and storage snapshots; 1 % exact resends,
conflicting resends, corrections and voids, an unknown customer now and then) spread over K
generated customers, half of the events going to the 100 biggest. They are written by an
embedded ClickHouse (chDB) in a subprocess, so generation is never part of a measurement.

The catalog uses every charge model (per_unit, graduated with a flat fee, volume with a flat
fee, package with free units), a grouped metric with a group price, every aggregation, a
minimum commitment, a percentage discount, tax and credit grants. Every subscription starts
on the first day of the month billed, so there is nothing to prorate and no earlier period
whose invoices would consume credits first: `load_catalog` checks that, because the peers
implement exactly this much of CONTRACT.md §3 and no more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

PERIOD = "2026-10"
PERIOD_START = "2026-10-01"
PERIOD_END = "2026-11-01"  # exclusive
PLANS = ["starter", "pro", "scale_eu"]
SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "billing_dagster/demo/sample_catalog.yaml"

PLANS_YAML = """
plans:
  - code: starter
    name: Starter
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees:
          - {code: platform, amount: "19.00"}
        charges:
          - metric: api_calls
            model: per_unit
            unit_price: "0.002"
          - metric: tokens
            model: per_unit
            unit_price: "0.000002"
            group_prices:
              nimbus-large: {model: per_unit, unit_price: "0.00003"}
          - metric: active_users
            model: per_unit
            unit_price: "0.10"
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees:
          - {code: platform, amount: "49.00"}
          - {code: support, amount: "15.50"}
        minimum_amount: "250.00"
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 1000, unit_price: "0"}
              - {up_to: 5000, unit_price: "0.01", flat_fee: "5.00"}
              - {up_to: null, unit_price: "0.005"}
          - metric: tokens
            model: per_unit
            unit_price: "0.0000015"
            group_prices:
              nimbus-large: {model: graduated, tiers: [{up_to: 100000, unit_price: "0.000025"},
                                                      {up_to: null, unit_price: "0.00002"}]}
          - metric: gpu_seconds
            model: volume
            tiers:
              - {up_to: 3600, unit_price: "0.0012"}
              - {up_to: null, unit_price: "0.0009", flat_fee: "10.00"}
          - metric: seats
            model: per_unit
            unit_price: "12.00"
          - metric: storage_gb
            model: package
            package_size: 100
            package_price: "5.00"
            free_units: 50
  - code: scale_eu
    name: Scale (EU)
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: EUR
        fixed_fees:
          - {code: platform, amount: "450.00"}
        charges:
          - metric: tokens
            model: volume
            tiers:
              - {up_to: 1000000, unit_price: "0.0000018"}
              - {up_to: null, unit_price: "0.0000012", flat_fee: "1.25"}
          - metric: gpu_seconds
            model: per_unit
            unit_price: "0.0008"
          - metric: peak_concurrency
            model: per_unit
            unit_price: "7.5"
          - metric: active_users
            model: graduated
            tiers:
              - {up_to: 100, unit_price: "0"}
              - {up_to: null, unit_price: "0.05", flat_fee: "2.00"}
"""


def catalog_text(customers: int) -> str:
    """The sample catalog's metrics, the plans above and `customers` generated customers."""
    metrics = SAMPLE_CATALOG.read_text().split("\nplans:")[0]
    lines = [metrics.rstrip(), PLANS_YAML.rstrip(), "", "customers:"]
    for number in range(customers):
        lines.append(f"  - id: {customer_id(number)}")
        lines.append(f"    name: Customer {number}")
        lines.append(f'    tax_rate: "{["0", "0.20", "0.08"][number // 3 % 3]}"')
        discounts = ', discounts: [{type: percentage, value: "10"}]' if number % 5 == 0 else ""
        lines.append(
            f"    subscriptions: [{{plan: {PLANS[number % 3]}, version: 1, "
            f"start: {PERIOD_START}{discounts}}}]"
        )
    lines.append("credit_grants:")
    for number in range(0, customers, 7):
        lines.append(
            f'  - {{id: g{number}, customer: {customer_id(number)}, amount: "300.00", '
            f"effective: {PERIOD_START}, expires: null, priority: 1}}"
        )
    return "\n".join(lines) + "\n"


def customer_id(number: int) -> str:
    return f"c{number:05d}"


# --------------------------------------------------------------------------- events


def events_sql(path: Path, events: int, customers: int) -> str:
    """`ingest_and_metering._EVENTS_SQL` for one month, with K generated customers."""
    from benchmarks.ingest_and_metering import _EVENTS_SQL, month_span
    from billing_dagster.warehouse.sql_text import quote_string

    # Half of the events go to the 100 biggest customers, the rest spread over all of them.
    customer = (
        "if(kind = 'unknown_customer', 'hooli', concat('c', leftPad(toString("
        f"if(h % 2 = 0, intDiv(h, 2) % {min(100, customers)}, intDiv(h, 2) % {customers})"
        "), 5, '0'))) AS customer"
    )
    sql, replaced = re.subn(
        r"multiIf\(kind = 'unknown_customer', 'hooli'.*?\) AS customer",
        customer,
        _EVENTS_SQL,
        flags=re.DOTALL,
    )
    assert replaced == 1, "the customer expression of _EVENTS_SQL changed"
    start_s, span_ms = month_span(int(PERIOD[:4]), int(PERIOD[5:]))
    return sql.format(
        path=quote_string(str(path)),
        offset=0,
        count=events,
        seed=20261015,
        start_s=start_s,
        span_ms=span_ms,
    )


def generate(path: Path, events: int, customers: int) -> None:
    """Write the JSONL file with chDB in a subprocess (its memory is not ours to count)."""
    from benchmarks.ingest_and_metering import run_in_chdb

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    run_in_chdb(events_sql(path, events, customers))


# --------------------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class Metric:
    code: str
    event_name: str
    aggregation: str
    property: str | None
    group_by: str | None
    filter_property: str | None
    filter_values: tuple[str, ...]


@dataclass(frozen=True)
class Tier:
    lower: Decimal
    upper: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal


@dataclass(frozen=True)
class Price:
    """One price of a charge: `per_unit` is one unbounded graduated tier."""

    model: str  # graduated | volume | package
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal = Decimal(1)
    package_price: Decimal = Decimal(0)
    free_units: Decimal = Decimal(0)


@dataclass(frozen=True)
class Plan:
    code: str
    currency: str
    fixed_fees: Decimal  # sum of the fees: every subscription is active the whole month
    minimum: Decimal
    prices: dict[tuple[str, str], Price]  # (metric, group or "") -> price


@dataclass(frozen=True)
class Customer:
    id: str
    plan: str
    tax_rate: Decimal
    discount_percent: Decimal
    credit: Decimal


@dataclass
class Catalog:
    metrics: list[Metric] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)


def _price(spec: dict) -> Price:
    model = spec["model"]
    if model == "per_unit":
        tier = Tier(Decimal(0), None, Decimal(spec["unit_price"]), Decimal(0))
        return Price("graduated", (tier,))
    if model == "package":
        return Price(
            "package",
            package_size=Decimal(spec["package_size"]),
            package_price=Decimal(spec["package_price"]),
            free_units=Decimal(spec.get("free_units", 0)),
        )
    tiers, lower = [], Decimal(0)
    for tier in spec["tiers"]:
        upper = None if tier["up_to"] is None else Decimal(tier["up_to"])
        flat = Decimal(tier.get("flat_fee", "0"))
        tiers.append(Tier(lower, upper, Decimal(tier["unit_price"]), flat))
        lower = upper
    return Price(model, tuple(tiers))


def load_catalog(path: Path) -> Catalog:
    """The catalog as the peers use it; refuses what they do not implement."""
    document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    catalog = Catalog()
    for metric in document["metrics"]:
        filters = metric.get("filters") or {}
        assert len(filters) <= 1, "peers implement one filter property per metric"
        (prop, values), *_ = list(filters.items()) or [(None, [])]
        catalog.metrics.append(
            Metric(
                metric["code"],
                metric["event_name"],
                metric["aggregation"],
                metric.get("property"),
                metric.get("group_by"),
                prop,
                tuple(str(v) for v in values),
            )
        )
    for plan in document["plans"]:
        (version,) = plan["versions"]
        prices = {}
        for charge in version["charges"]:
            prices[(charge["metric"], "")] = _price(charge)
            for group, spec in (charge.get("group_prices") or {}).items():
                prices[(charge["metric"], group)] = _price(spec)
        catalog.plans[plan["code"]] = Plan(
            plan["code"],
            version["currency"],
            sum((Decimal(fee["amount"]) for fee in version.get("fixed_fees", [])), Decimal(0)),
            Decimal(version.get("minimum_amount", "0")),
            prices,
        )
    grants = {}
    for grant in document.get("credit_grants") or []:
        assert grant["customer"] not in grants, "peers implement one grant per customer"
        assert str(grant["effective"]) <= PERIOD_START and grant.get("expires") is None
        grants[grant["customer"]] = Decimal(grant["amount"])
    for customer in document["customers"]:
        (subscription,) = customer["subscriptions"]
        assert str(subscription["start"]) == PERIOD_START and not subscription.get("end")
        assert not subscription.get("overrides"), "peers implement no overrides"
        discounts = subscription.get("discounts") or []
        assert all(d["type"] == "percentage" and "months" not in d for d in discounts)
        assert len(discounts) <= 1, "peers implement one percentage discount"
        catalog.customers[customer["id"]] = Customer(
            customer["id"],
            subscription["plan"],
            Decimal(customer.get("tax_rate", "0")),
            Decimal(discounts[0]["value"]) if discounts else Decimal(0),
            grants.get(customer["id"], Decimal(0)),
        )
    return catalog
