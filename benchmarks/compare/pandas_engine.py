"""pandas: the straightforward script a data team would write.

Lines parsed with `json` (numbers as exact `Decimal`, never floats: the invoices are to the
cent), a DataFrame of the events and one of their properties, `drop_duplicates` for the
first copies, a set of replaced keys for corrections, one groupby per metric, then the
rating and the invoice in plain Python (`pricing.invoice_totals`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd

from benchmarks.compare.pricing import invoice_totals
from benchmarks.compare.workload import PERIOD_END, PERIOD_START, load_catalog

FIELDS = ["event_id", "customer_id", "event_name", "timestamp", "replaces", "void"]


def run(events: Path, catalog_path: Path, work: Path, timed) -> dict[str, Decimal]:
    with timed("load the catalog"):
        catalog = load_catalog(catalog_path)
    with timed("parse the JSONL into DataFrames"):
        columns: dict[str, list] = {name: [] for name in FIELDS}
        properties = []
        with events.open() as lines:
            for line in lines:
                event = json.loads(line, parse_float=Decimal)
                for name in FIELDS:
                    columns[name].append(event.get(name))
                properties.append(event.get("properties") or {})
        df = pd.DataFrame(columns)
        del columns
        props = pd.DataFrame(properties, dtype=object)  # no float inference: exact numbers
        del properties
        df = pd.concat([df, props.add_prefix("p.")], axis=1)
        del props
    with timed("deduplicate and apply corrections"):
        df = df[df["customer_id"].isin(list(catalog.customers))]
        df = df.drop_duplicates(["customer_id", "event_id"], keep="first")
        corrections = df[df["replaces"].notna()]
        replaced = pd.MultiIndex.from_arrays([corrections["customer_id"], corrections["replaces"]])
        keys = pd.MultiIndex.from_arrays([df["customer_id"], df["event_id"]])
        void = df["void"].fillna(False).astype(bool) & df["replaces"].notna()
        df = df[~keys.isin(replaced) & ~void]
        df["ts"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
        df = df[(df["ts"] >= PERIOD_START) & (df["ts"] < PERIOD_END)]
    with timed("meter"):
        usage: dict[tuple[str, str, str], Decimal] = {}
        for metric in catalog.metrics:
            rows = df[df["event_name"] == metric.event_name]
            if metric.filter_property:
                text = rows[f"p.{metric.filter_property}"].map(text_of)
                rows = rows[text.isin(metric.filter_values)]
            keys = ["customer_id"]
            if metric.group_by:
                rows = rows[rows[f"p.{metric.group_by}"].notna()]
                rows = rows.assign(group=rows[f"p.{metric.group_by}"].map(text_of))
                keys.append("group")
            if metric.property:
                rows = rows[rows[f"p.{metric.property}"].notna()]
                rows = rows.assign(value=rows[f"p.{metric.property}"])
            grouped = rows.groupby(keys, sort=False)
            if metric.aggregation == "count":
                result = grouped.size()
            elif metric.aggregation == "sum":
                result = grouped["value"].agg(lambda values: sum(values, Decimal(0)))
            elif metric.aggregation == "max":
                result = grouped["value"].max()
            elif metric.aggregation == "count_unique":
                result = grouped["value"].agg(lambda values: len(set(map(text_of, values))))
            else:  # latest: greatest timestamp, then greatest event_id
                ordered = rows.sort_values(["ts", "event_id"])
                result = ordered.groupby(keys, sort=False)["value"].last()
            for key, quantity in result.items():
                customer, group = key if metric.group_by else (key, "")
                usage[(customer, metric.code, group)] = Decimal(quantity)
    with timed("rate and invoice"):
        return invoice_totals(catalog, usage)


def text_of(value) -> str:
    """A property value as text: strings verbatim, numbers as written in the JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
