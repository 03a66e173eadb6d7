"""Metered usage per subscription, period, metric and group, as the last metering run left
it (`fct_subscription_usage`): what `billing usage` prints and the API's usage answers;
and per day (`fct_metric_usage_daily`), for the portal's charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.formatting import decimal_text
from billing_dagster.periods import period_bounds


@dataclass(frozen=True)
class UsageRow:
    customer_id: str
    metric: str
    group: str | None
    period: str
    quantity: Decimal
    plan: str
    plan_version: int

    def document(self) -> dict:
        """The row as JSON: the quantity as exact decimal text."""
        return {
            "customer_id": self.customer_id,
            "metric": self.metric,
            "group": self.group,
            "period": self.period,
            "quantity": decimal_text(self.quantity),
        }


def subscription_usage(
    client: Client, database: str, period: str, customer_id: str | None = None
) -> list[UsageRow]:
    """The period's rows (of one customer, when given), in a stable order."""
    where = "period = {period:String}"
    if customer_id is not None:
        where += " AND customer_id = {customer:String}"
    rows = client.query(
        f"SELECT customer_id, metric_code, group_value, period, quantity, plan_code, "
        f"plan_version FROM `{database}`.fct_subscription_usage WHERE {where} "
        f"ORDER BY customer_id, metric_code, ifNull(group_value, ''), subscription_id",
        parameters={"period": period, "customer": customer_id},
    ).result_rows
    return [UsageRow(*row) for row in rows]


def daily_usage(
    client: Client, database: str, period: str, customer_id: str
) -> dict[str, dict[date, Decimal]]:
    """A customer's quantity of each metric per day of a period (groups together), from the
    daily usage as the last metering run left it: what a day alone would count. Time-weighted
    sums and percentiles are left out: a day alone does not hold them (docs/invoicing.md)."""
    start, end = period_bounds(period)
    rows = client.query(
        f"SELECT metric_code, usage_date, multiIf("
        f"any(aggregation) = 'count', toDecimal128(sum(event_count), 12), "
        f"any(aggregation) = 'sum', sum(value_sum), "
        f"any(aggregation) = 'max', max(value_max), "
        f"any(aggregation) = 'latest', "
        f"argMax(latest_value, (latest_timestamp, latest_event_id)), "
        f"toDecimal128(uniqExactMerge(distinct_values), 12)) "
        f"FROM `{database}`.fct_metric_usage_daily "
        f"WHERE customer_id = {{customer:String}} AND usage_date >= {{start:Date}} "
        f"AND usage_date < {{end:Date}} "
        f"AND aggregation NOT IN ('time_weighted_sum', 'percentile') "
        f"GROUP BY metric_code, usage_date "
        f"ORDER BY metric_code, usage_date",
        parameters={"customer": customer_id, "start": start, "end": end},
    ).result_rows
    days: dict[str, dict[date, Decimal]] = {}
    for metric, day, quantity in rows:
        days.setdefault(metric, {})[day] = quantity
    return days
