"""Metered usage per subscription, period, metric and group, as the last metering run left
it (`fct_subscription_usage`): what `billing usage` prints and the API's usage answers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.formatting import decimal_text


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
