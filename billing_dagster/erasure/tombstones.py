"""The tombstone that replaces an erased customer's name: in every stored catalog version
(its rows, its canonical JSON and the YAML it was applied from) and at the gateways."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import yaml
from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Catalog
from billing_dagster.catalog.serialize import canonical_json, catalog_from_json

TOMBSTONE = "[erased]"


def tombstoned_catalog_json(catalog_json: str, customer_id: str) -> str:
    catalog = catalog_from_json(catalog_json)
    customers = tuple(
        dataclasses.replace(c, name=TOMBSTONE) if c.id == customer_id else c
        for c in catalog.customers
    )
    return canonical_json(dataclasses.replace(catalog, customers=customers))


def tombstoned_document(document: str, customer_id: str) -> str:
    """The YAML as applied, with the customer's `name` written as the tombstone; every
    other character as it was (comments, order, quoting)."""
    spans = sorted(_name_spans(yaml.compose(document, Loader=yaml.SafeLoader), customer_id))
    for start, end in reversed(spans):
        written = document[start:end]
        line_ends = written[len(written.rstrip()) :]  # a block scalar's span takes its newline
        document = document[:start] + json.dumps(TOMBSTONE) + line_ends + document[end:]
    return document


def _name_spans(root: yaml.Node | None, customer_id: str) -> list[tuple[int, int]]:
    customers = _value(root, "customers")
    if not isinstance(customers, yaml.SequenceNode):
        return []
    spans = []
    for customer in customers.value:
        found_id, name = _value(customer, "id"), _value(customer, "name")
        ours = isinstance(found_id, yaml.ScalarNode) and found_id.value == customer_id
        if ours and isinstance(name, yaml.ScalarNode):
            spans.append((name.start_mark.index, name.end_mark.index))
    return spans


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for k, value in node.value if getattr(k, "value", None) == key), None)


def tombstone_catalog_versions(client: Client, database: str, customer_id: str) -> int:
    """Write the tombstone over the customer's name in every stored catalog version;
    returns the versions changed. Each version's hash is recomputed, so applying the
    tombstoned YAML again is recognised as the catalog in force."""
    rows = client.query(
        f"SELECT catalog_version, document, catalog_json FROM `{database}`.catalog_versions "
        f"ORDER BY catalog_version"
    ).result_rows
    changed = 0
    for version, document, catalog_json in rows:
        tombstoned = tombstoned_catalog_json(catalog_json, customer_id)
        if tombstoned == catalog_json:
            continue
        client.command(
            f"ALTER TABLE `{database}`.catalog_versions UPDATE document = {{document:String}}, "
            f"catalog_json = {{json:String}}, content_sha256 = {{sha:String}} "
            f"WHERE catalog_version = {{version:UInt32}}",
            parameters={
                "document": tombstoned_document(document, customer_id),
                "json": tombstoned,
                "sha": hashlib.sha256(tombstoned.encode()).hexdigest(),
                "version": version,
            },
            settings={"mutations_sync": 2},
        )
        changed += 1
    client.command(
        f"ALTER TABLE `{database}`.catalog_customers UPDATE name = {{tombstone:String}} "
        f"WHERE customer_id = {{customer:String}} AND name != {{tombstone:String}}",
        parameters={"customer": customer_id, "tombstone": TOMBSTONE},
        settings={"mutations_sync": 2},
    )
    return changed


def restored_names(client: Client, database: str, catalog: Catalog) -> list[str]:
    """Problems of a catalog that gives an erased customer a name again."""
    rows = client.query(f"SELECT DISTINCT customer_id FROM `{database}`.erasures").result_rows
    erased = {customer for (customer,) in rows}
    return [
        f"customer {c.id!r} was erased (`billing erase`): its name cannot be restored; "
        f'write `name: "{TOMBSTONE}"` for it in the catalog'
        for c in catalog.customers
        if c.id in erased and c.name != TOMBSTONE
    ]
