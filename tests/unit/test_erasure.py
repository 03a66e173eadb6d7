"""The pure parts of erasure: pseudonyms, the rewriting of raw lines, the tombstone in a
catalog's YAML, and the catalog rule that only unique counts may read a personal property."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_dagster.catalog.validate import CatalogError, validate_catalog_file
from billing_dagster.erasure.pseudonyms import erase_line, pseudonym
from billing_dagster.erasure.tombstones import tombstoned_document

KEY = bytes(range(32))
PII = ("user_email", "ip")


def test_a_pseudonym_is_keyed_stable_and_final():
    first = pseudonym(KEY, "ada@example.com")
    assert first == pseudonym(KEY, "ada@example.com")
    assert first != pseudonym(bytes(32), "ada@example.com")
    assert first.startswith("erased:") and len(first) == len("erased:") + 64
    assert pseudonym(KEY, first) == first  # erasing twice changes nothing


def test_only_the_personal_values_of_the_customers_lines_change():
    line = (
        '{"event_id":"e1", "customer_id":"acme","properties":{"user_email" : "a\\"b@x.io",'
        '"ip":12345,"plan":"a\\"b@x.io"}}\n'
    )
    erased = erase_line(line, "acme", PII, KEY)
    assert erased == (
        '{"event_id":"e1", "customer_id":"acme","properties":{"user_email" : "'
        + pseudonym(KEY, 'a"b@x.io')
        + '","ip":"'
        + pseudonym(KEY, "12345")  # a number is hashed as written, as the loader keeps it
        + '","plan":"a\\"b@x.io"}}\n'
    )
    assert erase_line(line.replace('"acme"', '"globex"'), "acme", PII, KEY).count("erased:") == 0


def test_a_line_that_does_not_parse_is_erased_when_it_names_the_customer():
    broken = '{"customer_id": "acme", "properties": {"user_email": "z@x.io"'
    assert erase_line(broken, "acme", PII, KEY) == broken.replace(
        '"z@x.io"', json.dumps(pseudonym(KEY, "z@x.io"))
    )
    assert erase_line(broken, "globex", PII, KEY) == broken


@given(st.text(), st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_any_value_round_trips_through_json_and_erasure(other, value):
    line = json.dumps({"customer_id": "c", "note": other, "properties": {"ip": value}})
    erased = json.loads(erase_line(line, "c", PII, KEY))
    assert erased == {
        "customer_id": "c",
        "note": other,
        "properties": {"ip": pseudonym(KEY, value)},
    }


def test_the_tombstone_replaces_only_that_customers_name():
    document = (
        "customers:\n"
        "  - id: acme   # ours\n"
        "    name: 'Ada O''Hara' # a person\n"
        "  - {id: globex, name: Ada}\n"
        "  - id: initech\n"
        "    name: |\n"
        "      Peter\n"
        '    tax_rate: "0"\n'
    )
    assert tombstoned_document(document, "acme") == document.replace("'Ada O''Hara'", '"[erased]"')
    assert tombstoned_document(document, "initech") == document.replace(
        "|\n      Peter\n", '"[erased]"\n'
    )


@pytest.mark.parametrize(
    ("metric", "problem"),
    [
        (
            "{code: m, event_name: e, aggregation: sum, property: ip}",
            "metrics[0].property: 'ip' is in pii_properties, whose values erasure replaces with "
            "hashes: a sum of it would change; only count_unique may read a personal property",
        ),
        (
            "{code: m, event_name: e, aggregation: count, filters: {ip: ['1']}}",
            "metrics[0].filters.ip: 'ip' is in pii_properties, whose values erasure replaces "
            "with hashes: filters on it would change quantities or show hashes on invoices; use "
            "another property or remove it from pii_properties",
        ),
        (
            "{code: m, event_name: e, aggregation: count, group_by: ip}",
            "metrics[0].group_by: 'ip' is in pii_properties, whose values erasure replaces with "
            "hashes: group_by on it would change quantities or show hashes on invoices; use "
            "another property or remove it from pii_properties",
        ),
    ],
)
def test_a_metric_may_only_count_a_personal_property_unique(tmp_path, metric, problem):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(f"pii_properties: [ip]\nmetrics:\n  - {metric}\nplans: []\ncustomers: []\n")
    with pytest.raises(CatalogError) as refused:
        validate_catalog_file(catalog)
    assert refused.value.problems == [f"{catalog}:3: {problem}"]
