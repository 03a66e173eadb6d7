"""Small catalogs for tests, built directly from the model (the validator has its own tests)."""

from __future__ import annotations

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
