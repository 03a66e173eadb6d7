"""Rating and invoice totals, CONTRACT.md §3, for the workload's catalog: in Python (the
pandas script) and in SQL (PostgreSQL and DuckDB run the same text).

Both take metered usage, one quantity per (customer, metric, group), and give each
customer's invoice total: every usage line rounded half away from zero to the cent, fixed
fees (the whole month: nothing to prorate), the minimum commitment, the percentage discount,
tax, then the credit grant. USD and EUR both have 2 decimals.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from benchmarks.compare.workload import Catalog, Price

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def charge(price: Price, quantity: Decimal) -> Decimal:
    if quantity <= 0:
        return Decimal(0)
    if price.model == "package":
        billable = max(quantity - price.free_units, Decimal(0))
        packages = (billable / price.package_size).to_integral_value(rounding=ROUND_CEILING)
        return packages * price.package_price
    amount = Decimal(0)
    for tier in price.tiers:
        inside = quantity > tier.lower and (tier.upper is None or quantity <= tier.upper)
        if price.model == "volume" and inside:
            return quantity * tier.unit_price + tier.flat_fee
        if price.model == "graduated" and quantity > tier.lower:
            top = quantity if tier.upper is None else min(quantity, tier.upper)
            amount += (top - tier.lower) * tier.unit_price + tier.flat_fee
    return amount


def invoice_totals(
    catalog: Catalog, usage: dict[tuple[str, str, str], Decimal]
) -> dict[str, Decimal]:
    """Total of each customer's invoice from usage keyed by (customer, metric, group)."""
    charges = {customer: Decimal(0) for customer in catalog.customers}
    for (customer_id, metric, group), quantity in usage.items():
        customer = catalog.customers.get(customer_id)
        if customer is None:
            continue
        prices = catalog.plans[customer.plan].prices
        price = prices.get((metric, group)) or prices.get((metric, ""))
        if price is not None:
            charges[customer_id] += cents(charge(price, quantity))
    totals = {}
    for customer in catalog.customers.values():
        plan = catalog.plans[customer.plan]
        subtotal = max(charges[customer.id] + plan.fixed_fees, plan.minimum)
        taxable = subtotal - min(cents(subtotal * customer.discount_percent / 100), subtotal)
        due = taxable + cents(taxable * customer.tax_rate)
        totals[customer.id] = due - min(customer.credit, due)
    return totals


#: Tables the SQL below reads, besides `events`; rows from `catalog_rows`.
CATALOG_TABLES = {
    "metrics": "metric text, event_name text, aggregation text, property text, "
    "group_by text, filter_property text",
    "metric_filter_values": "metric text, value text",
    "customers": "customer_id text, plan text, tax_rate DECIMAL(38,12), "
    "discount_percent DECIMAL(38,12), credit DECIMAL(38,12), fixed_fees DECIMAL(38,12), "
    "minimum DECIMAL(38,12)",
    "prices": "plan text, metric text, grp text, model text, package_size DECIMAL(38,12), "
    "package_price DECIMAL(38,12), free_units DECIMAL(38,12)",
    "price_tiers": "plan text, metric text, grp text, lower_bound DECIMAL(38,12), "
    "upper_bound DECIMAL(38,12), unit_price DECIMAL(38,12), flat_fee DECIMAL(38,12)",
}


def catalog_rows(catalog: Catalog) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = {name: [] for name in CATALOG_TABLES}
    for m in catalog.metrics:
        rows["metrics"].append(
            (m.code, m.event_name, m.aggregation, m.property, m.group_by, m.filter_property)
        )
        rows["metric_filter_values"] += [(m.code, value) for value in m.filter_values]
    for c in catalog.customers.values():
        plan = catalog.plans[c.plan]
        rows["customers"].append(
            (c.id, c.plan, c.tax_rate, c.discount_percent, c.credit, plan.fixed_fees, plan.minimum)
        )
    for plan in catalog.plans.values():
        for (metric, group), p in plan.prices.items():
            rows["prices"].append(
                (plan.code, metric, group, p.model, p.package_size, p.package_price, p.free_units)
            )
            rows["price_tiers"] += [
                (plan.code, metric, group, t.lower, t.upper, t.unit_price, t.flat_fee)
                for t in p.tiers
            ]
    return rows


#: From `events` (line_no, customer_id, event_id, event_name, ts, props, replaces, is_void;
#: `props` JSON, read with ->>) to per-customer totals, one statement per step. The same text
#: runs on PostgreSQL and DuckDB (both have DISTINCT ON, FILTER and ->> on JSON).
STEPS = {
    # First copy of each (customer_id, event_id) wins, in line order.
    "deduplicate": """
CREATE TABLE accepted AS
SELECT DISTINCT ON (customer_id, event_id) *
FROM events
WHERE customer_id IN (SELECT customer_id FROM customers)
ORDER BY customer_id, event_id, line_no""",
    # A replaced event stops counting; a void correction counts neither.
    "apply corrections": """
CREATE TABLE effective AS
SELECT a.*
FROM accepted a
LEFT JOIN (SELECT DISTINCT customer_id, replaces FROM accepted WHERE replaces IS NOT NULL) r
    ON r.customer_id = a.customer_id AND r.replaces = a.event_id
WHERE r.replaces IS NULL AND NOT (a.is_void AND a.replaces IS NOT NULL)
    AND a.ts >= TIMESTAMPTZ '2026-10-01 00:00:00+00' AND a.ts < TIMESTAMPTZ '2026-11-01 00:00:00+00'
""",
    # Each effective event under each metric that counts it; property values as text.
    "meter": """
CREATE TABLE usage AS
WITH metric_events AS (
    SELECT e.customer_id, m.metric, m.aggregation,
           CASE WHEN m.group_by IS NULL THEN '' ELSE e.props ->> m.group_by END AS grp,
           e.props ->> m.property AS value_text, e.ts, e.event_id
    FROM effective e
    JOIN metrics m ON m.event_name = e.event_name
    LEFT JOIN metric_filter_values f
        ON f.metric = m.metric AND f.value = e.props ->> m.filter_property
    WHERE (m.filter_property IS NULL OR f.value IS NOT NULL)
        AND (m.group_by IS NULL OR e.props ->> m.group_by IS NOT NULL)
        AND (m.property IS NULL OR e.props ->> m.property IS NOT NULL)
),
numbers AS (
    SELECT *, CASE WHEN aggregation IN ('sum', 'max', 'latest')
                   THEN CAST(value_text AS DECIMAL(38,12)) END AS value
    FROM metric_events
)
SELECT customer_id, metric, grp,
       CASE aggregation
           WHEN 'count' THEN CAST(count(*) AS DECIMAL(38,12))
           WHEN 'sum' THEN sum(value)
           WHEN 'max' THEN max(value)
           WHEN 'count_unique' THEN CAST(count(DISTINCT value_text) AS DECIMAL(38,12))
           ELSE (array_agg(value ORDER BY ts DESC, event_id DESC)
                 FILTER (WHERE aggregation = 'latest'))[1]
       END AS quantity
FROM numbers
GROUP BY customer_id, metric, aggregation, grp""",
    # Each usage line priced (a group price when there is one), then rounded to the cent.
    "rate": """
CREATE TABLE usage_lines AS
WITH priced AS (
    SELECT u.customer_id, u.metric, u.grp, u.quantity, c.plan,
           COALESCE(g.grp, '') AS price_grp
    FROM usage u
    JOIN customers c ON c.customer_id = u.customer_id
    JOIN prices d ON d.plan = c.plan AND d.metric = u.metric AND d.grp = ''
    LEFT JOIN prices g ON g.plan = c.plan AND g.metric = u.metric AND g.grp = u.grp
        AND u.grp <> ''
),
amounts AS (
    SELECT p.customer_id, p.metric, p.grp, p.quantity, pr.model,
           pr.package_size, pr.package_price, pr.free_units,
           sum(CASE
               WHEN p.quantity <= 0 OR t.lower_bound IS NULL OR p.quantity <= t.lower_bound
                   THEN 0
               WHEN pr.model = 'graduated'
                   THEN (LEAST(p.quantity, COALESCE(t.upper_bound, p.quantity)) - t.lower_bound)
                        * t.unit_price + t.flat_fee
               WHEN t.upper_bound IS NULL OR p.quantity <= t.upper_bound
                   THEN p.quantity * t.unit_price + t.flat_fee
               ELSE 0 END) AS tiered
    FROM priced p
    JOIN prices pr ON pr.plan = p.plan AND pr.metric = p.metric AND pr.grp = p.price_grp
    LEFT JOIN price_tiers t ON t.plan = p.plan AND t.metric = p.metric AND t.grp = p.price_grp
    GROUP BY p.customer_id, p.metric, p.grp, p.quantity, pr.model,
             pr.package_size, pr.package_price, pr.free_units
),
packages AS (
    SELECT *, GREATEST(quantity - free_units, 0) AS billable,
           CAST(CEIL(CAST(GREATEST(quantity - free_units, 0) AS DOUBLE PRECISION)
                     / CAST(package_size AS DOUBLE PRECISION)) AS BIGINT) AS approx
    FROM amounts
)
-- ceil(billable / size), exactly: the float estimate corrected by one either way.
SELECT customer_id, metric, grp,
       ROUND(CASE WHEN model <> 'package' THEN tiered
                  ELSE (approx + CASE WHEN approx * package_size < billable THEN 1 ELSE 0 END
                               - CASE WHEN approx > 0 AND (approx - 1) * package_size >= billable
                                      THEN 1 ELSE 0 END) * package_price END, 2) AS amount
FROM packages""",
    # Charges, minimum, discount, tax and credit: one total per customer.
    "invoice": """
CREATE TABLE invoice_totals AS
WITH charges AS (
    SELECT c.*, c.fixed_fees + COALESCE(l.usage_amount, 0) AS charges
    FROM customers c
    LEFT JOIN (SELECT customer_id, sum(amount) AS usage_amount FROM usage_lines
               GROUP BY customer_id) l ON l.customer_id = c.customer_id
),
subtotals AS (
    SELECT *, GREATEST(charges, minimum) AS subtotal FROM charges
),
taxable AS (
    SELECT *, subtotal - LEAST(ROUND(subtotal * discount_percent * 0.01, 2), subtotal) AS taxable
    FROM subtotals
),
due AS (
    SELECT *, taxable + ROUND(taxable * tax_rate, 2) AS due FROM taxable
)
SELECT customer_id, CAST(due - LEAST(credit, due) AS DECIMAL(38,2)) AS total FROM due""",
}
