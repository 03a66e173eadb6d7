"""Partners in the catalog: a share in (0, 1], customers that exist, one partner at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_dagster.catalog.validate import CatalogError, validate_catalog_file
from tests.catalogs import calls_catalog

CUSTOMERS = [
    "{id: acme, name: Acme, subscriptions: [{plan: pro, start: 2026-01-01}]}",
    "{id: beta, name: Beta, subscriptions: [{plan: pro, start: 2026-01-01}]}",
]
LINE = calls_catalog(CUSTOMERS).count("\n") + 2  # the first partner, after `partners:`


def problems(partners: str) -> list[str]:
    Path("catalog.yaml").write_text(calls_catalog(CUSTOMERS, f"partners:\n{partners}"))
    with pytest.raises(CatalogError) as error:
        validate_catalog_file("catalog.yaml")
    return error.value.problems


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_a_valid_partner_reads_back_exactly():
    Path("catalog.yaml").write_text(
        calls_catalog(
            CUSTOMERS,
            'partners:\n  - {id: r1, name: R, share: "0.125", basis: total, '
            "customers: [{id: acme, from: 2026-01-01, to: 2026-06-30}]}\n",
        )
    )
    [partner] = validate_catalog_file("catalog.yaml").partners
    assert (str(partner.share), partner.basis, partner.customers[0].customer) == (
        "0.125",
        "total",
        "acme",
    )


def test_each_problem_is_named():
    assert problems(
        '  - {id: r1, name: R, share: "0", customers: [{id: nobody, from: 2026-01-01}]}\n'
        '  - {id: r2, name: S, share: "0.1", customers: [{id: acme, from: 2026-03-01}]}\n'
        '  - {id: r3, name: T, share: "0.2", customers: [{id: acme, from: 2026-01-01, to: 2026-04-01}]}\n'
    ) == [
        f"catalog.yaml:{LINE}: partners[0].share: must be greater than 0",
        f'catalog.yaml:{LINE}: partners[0].customers[0].id: unknown customer "nobody"; define it '
        f"under customers",
        f"catalog.yaml:{LINE + 2}: partners[2].customers[0]: customer 'acme' is also brought by "
        f"partners[1] at the same dates; a customer's billing is shared with one partner at a time",
    ]
