"""The figures alert rules watch, read from the warehouse as the last metering run left
them (exact), for the windows current at `now`:

- a feature: its usage and limit (quota grants included) as `billing entitlements` answers;
- a metric: its quantity in the billing period as `billing usage` prints it, summed over
  the customer's subscriptions and groups;
- an amount: the usage charges rated so far in the billing period (`so_far`, before fixed
  fees, discounts, credits and tax), or that amount extended to the whole period at the
  pace of the days gone (`projected`).

Watches that fired before keep a figure even when their usage is gone (0), so a
correction that removed it resolves them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.alerts.store import History, record
from billing_dagster.alerts.transitions import Figure, Transition, Watch, exact_transitions
from billing_dagster.catalog.model import AlertRule
from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.entitlements.answers import granted
from billing_dagster.entitlements.exact import Snapshot, read_snapshot
from billing_dagster.entitlements.windows import window


def evaluate_exact(client: Client, database: str, home: Path, now: datetime) -> list[Transition]:
    """Trigger, confirm and resolve alerts from exact usage; what changed."""
    version = latest_catalog_version(client, database)
    catalog = load_catalog(client, database, version) if version is not None else None
    if catalog is None or not catalog.alerts:
        return []
    rules = {rule.id: rule for rule in catalog.alerts}
    snapshot = read_snapshot(client, database, now, catalog)
    figures = exact_figures(client, database, catalog.alerts, snapshot, now)

    def with_history(history: History) -> dict[Watch, Figure]:
        """A watch that fired in a current window and has no usage now counts 0."""
        for key in history:
            watch = key.watch
            if watch in figures or watch.rule_id not in rules:
                continue
            feature = snapshot.features.get(watch.customer_id, {}).get(watch.target)
            start, end = window(feature.period if feature else "billing_period", now)
            if watch.period_start == start:
                figures[watch] = Figure(Decimal(0), None, end)
        return figures

    return record(client, database, home, rules, with_history, exact_transitions)


def exact_figures(
    client: Client,
    database: str,
    rules: tuple[AlertRule, ...],
    snapshot: Snapshot,
    now: datetime,
) -> dict[Watch, Figure]:
    figures: dict[Watch, Figure] = {}
    month_start, month_end = window("billing_period", now)
    quantities = (
        _metric_quantities(client, database, now)
        if any(r.target == "metric" for r in rules)
        else {}
    )
    amounts = (
        _rated_amounts(client, database, now) if any(r.target == "amount" for r in rules) else {}
    )
    features: dict[tuple[str, str], tuple[datetime, Figure] | None] = {}
    for rule in rules:
        watched = snapshot.features if rule.customer == "*" else [rule.customer]
        for customer in watched:
            if customer not in snapshot.features:
                continue  # no subscription in force
            if rule.target == "feature":
                if (customer, rule.code) not in features:
                    features[(customer, rule.code)] = _feature_figure(
                        snapshot, customer, rule.code, now
                    )
                seen = features[(customer, rule.code)]
                if seen is not None:
                    figures[Watch(rule.id, customer, rule.code, seen[0])] = seen[1]
                continue
            if rule.target == "metric":
                value = quantities.get((customer, rule.code), Decimal(0))
            else:
                value = amounts.get(customer, Decimal(0))
                if rule.code == "projected":
                    value = projected(value, month_start, month_end, now)
            figures[Watch(rule.id, customer, rule.code, month_start)] = Figure(
                value, None, month_end
            )
    return figures


def projected(so_far: Decimal, start: datetime, end: datetime, now: datetime) -> Decimal:
    """The amount at the pace of the days gone (today counted), over the whole period."""
    days_gone = (now.date() - start.date()).days + 1
    return so_far * (end - start).days / days_gone


def _feature_figure(
    snapshot: Snapshot, customer: str, code: str, now: datetime
) -> tuple[datetime, Figure] | None:
    """A metered feature's usage in its current window, and its limit with the quota
    grants of that window (as the entitlement answer counts it)."""
    feature = snapshot.features[customer].get(code)
    if feature is None or feature.kind != "metered":
        return None
    start, end = window(feature.period, now)
    usage = snapshot.usage.get((customer, code, start), Decimal(0))
    limit = feature.limit
    if limit is not None:
        grants = granted(snapshot.grants.get((customer, code), []), start)
        limit += sum((grant.units for grant in grants), Decimal(0))
    return start, Figure(usage, limit, end)


def _metric_quantities(client: Client, database: str, now: datetime) -> dict:
    rows = _period_sums(client, database, now, "fct_subscription_usage", "metric_code, quantity")
    return {(customer, metric): quantity for customer, metric, quantity in rows}


def _rated_amounts(client: Client, database: str, now: datetime) -> dict[str, Decimal]:
    return dict(_period_sums(client, database, now, "fct_rated_usage", "amount"))


def _period_sums(client: Client, database: str, now: datetime, model: str, columns: str):
    """Per customer (and the other key columns), the sum of the last column of a mart over
    the billing period of `now`; nothing before the mart is deployed."""
    if not client.command(f"EXISTS TABLE `{database}`.{model}"):
        return []
    *keys, summed = [c.strip() for c in columns.split(",")]
    grouping = ", ".join(["customer_id", *keys])
    return client.query(
        f"SELECT {grouping}, sum({summed}) FROM `{database}`.{model} "
        f"WHERE period = {{period:String}} GROUP BY {grouping}",
        parameters={"period": now.strftime("%Y-%m")},
    ).result_rows
