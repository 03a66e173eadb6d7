"""Small catalogs for tests, built directly from the model (the validator has its own tests),
and the contract's example (CONTRACT.md §4) as YAML with its events."""

from __future__ import annotations

import json
from datetime import date

from billing_dagster.catalog.model import (
    Catalog,
    Customer,
    Metric,
    Plan,
    PlanVersion,
    Subscription,
)
from billing_dagster.catalog.store import apply_catalog

#: The time zones randomized tests put customers in (docs/invoicing.md, "Time zones"): a
#: zone that leaves DST on 2026-11-01, a half-hour offset, a half-hour DST change
#: (2026-10-04, a 23.5-hour day) and +14.
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati")
#: Instants at those zones' edges in October and November 2026.
ZONE_EDGES = [
    "2026-09-30T10:00:00Z",  # Kiritimati: 1 October, 00:00
    "2026-09-30T13:29:59.999Z",  # Lord Howe: 30 September, 23:59:59.999
    "2026-09-30T18:30:00Z",  # Kolkata: 1 October, 00:00
    "2026-10-01T06:59:59.999Z",  # Los Angeles: 30 September, 23:59:59.999
    "2026-10-03T15:15:00Z",  # Lord Howe: 4 October, 01:45 (+10:30), before its clocks jump
    "2026-10-03T15:45:00Z",  # Lord Howe: 4 October, 02:45 (+11)
    "2026-10-31T09:59:59.999Z",  # Kiritimati: 31 October, 23:59:59.999
    "2026-10-31T13:00:00Z",  # Lord Howe: 1 November, 00:00
    "2026-10-31T18:29:59.999Z",  # Kolkata: 31 October, 23:59:59.999
    "2026-11-01T06:30:00Z",  # Los Angeles: 31 October, 23:30 (PDT)
    "2026-11-01T08:30:00Z",  # Los Angeles: 1 November, 01:30 PDT
    "2026-11-01T09:30:00Z",  # Los Angeles: 1 November, 01:30 PST, an hour later
]

BASIC_PLAN = Plan("basic", "Basic", (PlanVersion("basic", 1, date(2020, 1, 1), "USD"),))


def subscription(customer: str, start: date, end: date | None = None) -> Subscription:
    return Subscription(f"{customer}:basic:{start.isoformat()}", customer, "basic", 1, start, end)


def catalog_of(metrics: tuple[Metric, ...], windows: dict[str, list[tuple]]) -> Catalog:
    """Every customer on the basic plan over the given (start, end) windows."""
    customers = tuple(
        Customer(name, name, subscriptions=tuple(subscription(name, *w) for w in spans))
        for name, spans in windows.items()
    )
    return Catalog(metrics=metrics, plans=(BASIC_PLAN,), customers=customers)


def store(client, database: str, catalog: Catalog) -> int:
    return apply_catalog(client, database, catalog, "test.yaml", "").version


def calls_catalog(customers: list[str], rest: str = "") -> str:
    """A catalog YAML of one metric (`calls`, counted) on a Pro plan at 0.01 a call, with
    these `customers:` entries (flow mappings) and what follows them (alerts, grants)."""
    entries = "".join(f"  - {customer}\n" for customer in customers)
    return f"""\
metrics:
  - {{code: calls, event_name: api_request, aggregation: count}}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges: [{{metric: calls, model: per_unit, unit_price: "0.01"}}]
customers:
{entries}{rest}"""


#: Two customers on the calls plan, billed in October 2026 (`portal_events`); acme has
#: a credit grant.
PORTAL_CATALOG = calls_catalog(
    [
        "{id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}",
        "{id: beta, name: Beta, subscriptions: [{plan: pro, start: 2026-01-01}]}",
    ],
    'credit_grants:\n  - {id: g1, customer: acme, amount: "0.02", effective: 2026-01-01}\n',
)


def portal_events() -> str:
    """acme calls once a day on 1–3 October 2026, beta on 1–5 October."""
    return "".join(
        json.dumps({"event_id": f"{customer}-{n}", "customer_id": customer,
                    "event_name": "api_request", "timestamp": f"2026-10-{n + 1:02d}T08:00:00Z"})
        + "\n"
        for customer, count in (("acme", 3), ("beta", 5))
        for n in range(count)
    )  # fmt: skip


#: The contract's example invoice (CONTRACT.md §4) as a catalog to apply through the CLI.
CONTRACT_EXAMPLE = """\
metrics:
  - {code: api_calls, event_name: api_request, aggregation: count}
  - {code: tokens, event_name: completion, aggregation: sum, property: tokens, group_by: model}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "49.00"}]
        minimum_amount: "100.00"
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 10, unit_price: "0"}
              - {up_to: null, unit_price: "0.5", flat_fee: "1.00"}
          - metric: tokens
            model: per_unit
            unit_price: "0.000002"
            group_prices:
              gpt-large: {model: per_unit, unit_price: "0.00003"}
customers:
  - id: acme
    name: Acme Corp
    tax_rate: "0.20"
    subscriptions:
      - {plan: pro, version: 1, start: 2026-10-01, discounts: [{type: fixed, amount: "10.00"}]}
credit_grants:
  - {id: g1, customer: acme, amount: "500.00", effective: 2026-10-01, expires: null}
"""


def contract_example_events() -> str:
    """The events of the contract's example invoice: 12 calls and 120,000 large tokens."""
    calls = [
        {"event_id": f"a{i}", "customer_id": "acme", "event_name": "api_request",
         "timestamp": f"2026-10-{i + 1:02d}T12:00:00Z"}
        for i in range(12)
    ]  # fmt: skip
    tokens = [
        {"event_id": f"t{i}", "customer_id": "acme", "event_name": "completion",
         "timestamp": "2026-10-20T00:00:00Z", "properties": {"model": "gpt-large", "tokens": 40000}}
        for i in range(3)
    ]  # fmt: skip
    return "\n".join(json.dumps(e) for e in calls + tokens) + "\n"


#: The contract's catalog example (CONTRACT.md §2), completed so that it is valid.
VALID = """\
metrics:
  - code: api_calls            # unique
    event_name: api_request
    aggregation: count
    filters: {status: ["200", 201, true]}
  - code: tokens
    event_name: completion
    aggregation: sum
    property: tokens
    group_by: model
  - code: storage_gb
    event_name: storage_reported
    aggregation: max
    property: gb
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees:
          - {code: platform, amount: "49.00"}
        minimum_amount: "100.00"
        charges:
          - metric: api_calls
            model: graduated
            tiers:
              - {up_to: 10000, unit_price: "0"}
              - {up_to: 100000, unit_price: "0.001", flat_fee: "5.00"}
              - {up_to: null, unit_price: "0.0005"}
          - metric: tokens
            model: per_unit
            unit_price: "0.000002"
            group_prices:
              gpt-large: {model: per_unit, unit_price: "0.00003"}
          - metric: storage_gb
            model: package
            package_size: 100
            package_price: "5.00"
            free_units: 0
        entitlements:
          - {feature: api_calls, limit: 1000000, enforcement: soft}
          - {feature: sso, enabled: true}
      - version: 2
        effective_from: "2026-06-01"
        currency: USD
        fixed_fees:
          - {code: platform, amount: "59.00"}
        charges:
          - metric: api_calls
            model: volume
            tiers:
              - {up_to: "1000.5", unit_price: "0.002"}
              - {up_to: null, unit_price: "0.001", flat_fee: "1"}
customers:
  - id: acme
    name: Acme Corp
    tax_rate: "0.20"
    subscriptions:
      - plan: pro
        version: 1
        start: 2026-01-15
        end: 2026-06-15
        overrides:
          charges: {api_calls: {model: per_unit, unit_price: "0.0008"}}
          fixed_fees: {platform: {amount: "39.00"}}
          minimum_amount: "0"
        discounts:
          - {type: percentage, value: "10", months: 3}
          - {type: fixed, amount: "20.00"}
      - plan: pro
        start: 2026-06-15
        end: null
  - id: globex
    name: Globex
    subscriptions:
      - {plan: pro, start: 2026-03-01}
credit_grants:
  - {id: g1, customer: acme, amount: "500.00", effective: 2026-01-01, expires: 2026-12-31, priority: 1}
  - {id: g2, customer: globex, amount: "10", effective: 2026-01-01}
"""


#: Finance's months (`finance_history`): October 2026 finalized, November billed as a
#: draft. MRR moves in November: hooli is new (10), initech expands from Starter to Pro
#: (20 -> 150), umbrella contracts from Pro to Starter (150 -> 20), globex churns (EUR 10).
#: Pro commits to a 150.00 minimum above its 100.00 fee; hooli's fee is overridden.
FINANCE_CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "100.00"}]
        minimum_amount: "150.00"
        charges:
          - metric: calls
            model: graduated
            tiers: [{up_to: 10, unit_price: "1.00"}, {up_to: null, unit_price: "0.50"}]
  - code: starter
    name: Starter
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "20.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "1.00"}]
  - code: euro
    name: Euro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: EUR
        fixed_fees: [{code: platform, amount: "10.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "2.00"}]
customers:
  - {id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-10-01}]}
  - {id: globex, name: Globex, subscriptions: [{plan: euro, start: 2026-10-01, end: 2026-11-15}]}
  - id: initech
    name: Initech
    subscriptions:
      - {plan: starter, start: 2026-10-01, end: 2026-11-01}
      - {plan: pro, start: 2026-11-01}
  - id: hooli
    name: Hooli
    subscriptions:
      - plan: starter
        start: 2026-11-01
        overrides: {fixed_fees: {platform: {amount: "10.00"}}}
  - id: umbrella
    name: Umbrella
    subscriptions:
      - {plan: pro, start: 2026-10-01, end: 2026-11-01}
      - {plan: starter, start: 2026-11-01}
"""


def finance_events(month: str, calls: dict[str, int], day: int = 1, first: int = 0) -> str:
    """`calls[customer]` API calls each on `month`-`day` (ids from `first` on)."""
    return "".join(
        json.dumps({"event_id": f"{customer}-{month}-{day}-{n}", "customer_id": customer,
                    "event_name": "api_request", "timestamp": f"{month}-{day:02d}T09:00:00Z"})
        + "\n"
        for customer, count in calls.items()
        for n in range(first, first + count)
    )  # fmt: skip


#: Several products at once (docs/invoicing.md): acme holds the API plan from 16 October
#: 2026 and the storage plan from September, each with its own minimum and discount, and a
#: credit grant limited to storage used before an unlimited one.
PRODUCTS_CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
  - {code: stored_gb, event_name: storage_reported, aggregation: max, property: gb}
plans:
  - code: api
    name: API
    product: api
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "31.00"}]
        minimum_amount: "62.00"
        charges: [{metric: calls, model: per_unit, unit_price: "0.50"}]
        entitlements: [{feature: calls, limit: 1000, enforcement: hard}]
  - code: storage
    name: Storage
    product: storage
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: bucket, amount: "20.00"}]
        charges: [{metric: stored_gb, model: per_unit, unit_price: "0.10"}]
        entitlements: [{feature: sso, enabled: true}]
customers:
  - id: acme
    name: Acme
    tax_rate: "0.10"
    subscriptions:
      - {plan: api, start: 2026-10-16, discounts: [{type: percentage, value: "50"}]}
      - {plan: storage, start: 2026-09-01, discounts: [{type: fixed, amount: "5.00"}]}
credit_grants:
  - {id: disk, customer: acme, amount: "1000.00", effective: 2026-01-01, product: storage}
  - {id: any, customer: acme, amount: "10.00", effective: 2026-01-01, priority: 1}
"""


def products_events() -> str:
    """October 2026: ten API calls on the 20th; 120 then 150 GB stored."""
    calls = [
        {
            "event_id": f"c{i}",
            "customer_id": "acme",
            "event_name": "api_request",
            "timestamp": f"2026-10-20T10:{i:02d}:00Z",
        }
        for i in range(10)
    ]
    stored = [
        {
            "event_id": f"s{gb}",
            "customer_id": "acme",
            "event_name": "storage_reported",
            "timestamp": f"2026-10-{day}T00:00:00Z",
            "properties": {"gb": gb},
        }
        for day, gb in (("02", 120), ("25", 150))
    ]
    return "".join(json.dumps(event) + "\n" for event in calls + stored)  # fmt: skip


#: acme's invoice of October 2026 in PRODUCTS_CATALOG, as the rules of docs/invoicing.md
#: make it: storage first (it started first), then the API's prorated 16 days of 31.
PRODUCTS_OCTOBER_LINES = [
    ("fixed_fee", "bucket", "storage", "20.00"),
    ("usage", "stored_gb", "storage", "15.00"),
    ("discount", None, "storage", "-5.00"),  # storage's taxable: 30.00
    ("fixed_fee", "platform", "api", "16.00"),  # 31.00 × 16/31
    ("usage", "calls", "api", "5.00"),
    ("minimum_commitment", None, "api", "11.00"),  # 62.00 × 16/31 = 32.00, less 21.00
    ("discount", None, "api", "-16.00"),  # 50% of 32.00; the API's taxable: 16.00
    ("tax", None, None, "4.60"),  # 10% of 46.00
    ("credit", "disk", None, "-33.00"),  # storage's 30.00 and its tax share 3.00
    ("credit", "any", None, "-10.00"),
]
PRODUCTS_OCTOBER_TOTALS = {
    "charges": "56.00",
    "subtotal": "67.00",
    "discount": "21.00",
    "tax": "4.60",
    "credits_applied": "43.00",
    "total": "7.60",
}


#: Threshold invoicing (docs/invoicing.md): a plan that bills its usage at 0.50 a call in
#: interim invoices once 100.00 have accrued, with a fee, a 10% discount and 10% tax; acme
#: holds it from October 2026, globex the same plan without a threshold (`basic`).
THRESHOLD_CATALOG = """\
metrics:
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        invoice_at_amount: "100.00"
        fixed_fees: [{code: platform, amount: "49.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "0.50"}]
  - code: basic
    name: Basic
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "49.00"}]
        charges: [{metric: calls, model: per_unit, unit_price: "0.50"}]
customers:
  - id: acme
    name: Acme
    tax_rate: "0.10"
    subscriptions:
      - {plan: pro, start: 2026-10-01, discounts: [{type: percentage, value: "10"}]}
  - id: globex
    name: Globex
    tax_rate: "0.10"
    subscriptions:
      - {plan: basic, start: 2026-10-01, discounts: [{type: percentage, value: "10"}]}
"""
