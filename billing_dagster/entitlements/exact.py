"""What the warehouse says of entitlements now: the features of every customer's
subscription in force, the quota grants, and the exact usage of the current windows as
the last metering run left it (`fct_entitlement_usage`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog, Metric, QuotaGrant
from billing_dagster.catalog.store import IN_FORCE, latest_catalog_version, load_catalog
from billing_dagster.entitlements.windows import window


@dataclass(frozen=True)
class Feature:
    """A feature of a customer's subscription in force (the plan's, overridden)."""

    customer_id: str
    subscription_id: str
    feature: str
    kind: str  # metered | boolean | static
    metric_code: str | None
    limit: Decimal | None
    enforcement: str | None
    period: str | None
    enabled: bool | None
    config: dict | None


@dataclass
class Snapshot:
    taken_at: datetime
    #: customer -> feature code -> feature, for customers with a subscription in force
    features: dict[str, dict[str, Feature]] = field(default_factory=dict)
    #: (customer, feature, window start) -> exact usage
    usage: dict[tuple[str, str, datetime], Decimal] = field(default_factory=dict)
    grants: dict[tuple[str, str], list[QuotaGrant]] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    #: when the last metering run finished (None before the first)
    exact_through: datetime | None = None

    def current_windows(self, instant: datetime) -> set[tuple[str, datetime]]:
        return {(p, window(p, instant)[0]) for p in ("billing_period", "day", "hour")}


def read_snapshot(
    client: Client, database: str, now: datetime, catalog: Catalog | None = None
) -> Snapshot:
    """`catalog`: the catalog in force, when the caller has read it already."""
    snapshot = Snapshot(now)
    if catalog is None:
        version = latest_catalog_version(client, database)
        if version is None:
            return snapshot
        catalog = load_catalog(client, database, version)
    db = f"`{database}`"
    snapshot.metrics = {metric.code: metric for metric in catalog.metrics}
    for grant in catalog.quota_grants:
        snapshot.grants.setdefault((grant.customer, grant.feature), []).append(grant)
    today = now.date()
    active = (
        f"SELECT subscription_id FROM {db}.catalog_subscriptions WHERE {IN_FORCE.format(db=db)} "
        f"AND start_date <= {{today:Date}} AND (end_date IS NULL OR end_date > {{today:Date}})"
    )
    rows = client.query(
        f"SELECT customer_id, subscription_id, feature, kind, metric_code, limit_quantity, "
        f"enforcement, period, enabled, config_json FROM {db}.catalog_entitlements "
        f"WHERE {IN_FORCE.format(db=db)} AND subscription_id IN ({active})",
        parameters={"today": today},
    ).result_rows
    for *columns, config in rows:
        feature = Feature(*columns, json.loads(config) if config is not None else None)
        snapshot.features.setdefault(feature.customer_id, {})[feature.feature] = feature
    for customer in client.query(
        f"SELECT DISTINCT customer_id FROM {db}.catalog_subscriptions "
        f"WHERE {IN_FORCE.format(db=db)} AND subscription_id IN ({active})",
        parameters={"today": today},
    ).result_rows:
        snapshot.features.setdefault(customer[0], {})
    if client.command(f"EXISTS TABLE {db}.fct_entitlement_usage"):
        starts = {p: start for p, start in snapshot.current_windows(now)}
        usage = client.query(
            f"SELECT customer_id, feature, window_start, quantity FROM {db}.fct_entitlement_usage "
            f"WHERE subscription_id IN ({active}) AND ("
            f"(period = 'billing_period' AND window_start = {{month:DateTime64(3, 'UTC')}}) OR "
            f"(period = 'day' AND window_start = {{day:DateTime64(3, 'UTC')}}) OR "
            f"(period = 'hour' AND window_start = {{hour:DateTime64(3, 'UTC')}}))",
            parameters={
                "today": today,
                "month": starts["billing_period"],
                "day": starts["day"],
                "hour": starts["hour"],
            },
        ).result_rows
        for customer, feature, start, quantity in usage:
            snapshot.usage[(customer, feature, as_utc(start))] = quantity
    [(runs, finished)] = client.query(
        f"SELECT count(), max(metered_at) FROM {db}.metering_runs"
    ).result_rows
    if runs:
        snapshot.exact_through = as_utc(finished)
    return snapshot


def metering_runs(client: Client, database: str) -> int:
    """How many metering runs have finished: when it moves, exact usage has changed."""
    return int(client.command(f"SELECT count() FROM `{database}`.metering_runs"))


def metered_files(client: Client, database: str, sha256s: list[str]) -> set[str]:
    """Those of these loaded files whose every event day was metered after their load: their
    events are in exact usage."""
    if not sha256s:
        return set()
    db = f"`{database}`"
    loads = client.query(
        f"SELECT file_sha256, load_seq, event_dates FROM {db}.event_loads "
        f"WHERE file_sha256 IN {{shas:Array(String)}}",
        parameters={"shas": sha256s},
    ).result_rows
    if not loads:
        return set()
    runs = client.query(
        f"SELECT min_date, max_date, max_load_seq FROM {db}.metering_runs "
        f"WHERE max_load_seq >= {{first:UInt64}}",
        parameters={"first": min(seq for _, seq, _ in loads)},
    ).result_rows
    return {
        sha
        for sha, seq, days in loads
        if all(any(a <= day <= b and seq <= top for a, b, top in runs) for day in days)
    }


def as_utc(value: datetime | date) -> datetime:
    """An aware UTC datetime, from the warehouse's naive ones or a date."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
