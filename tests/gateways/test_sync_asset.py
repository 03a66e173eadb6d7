"""The Dagster side: the `gateway_invoices` asset syncs a finalized partition and its check
compares every synced invoice's total on the gateway with ours."""

from __future__ import annotations

import json

import dagster as dg

from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.defs.sync.assets import TOTALS_CHECK, gateway_invoices
from billing_dagster.defs.sync.resources import GatewayResource
from testbed.documents import three_currencies, write_finalized


def materialize(settings, home, directory) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [gateway_invoices],
        partition_key="2026-10-01",
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "clickhouse": ClickHouseResource.of(home, settings),
            "gateway": GatewayResource(gateway="file", directory=str(directory)),
            "billing_home": BillingHomeResource(home=str(home)),
        },
        raise_on_error=False,
    )


def test_asset_syncs_and_its_check_catches_a_changed_total(
    client, database, settings, home, tmp_path
):
    write_finalized(client, database, "2026-10", three_currencies("2026-10"))
    result = materialize(settings, home, tmp_path / "out")
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.metadata["checked"].value) == (
        TOTALS_CHECK,
        True,
        3,
    )
    (materialized,) = result.asset_materializations_for_node("gateway_invoices")
    assert materialized.metadata["synced"].value == 3

    # Someone edits an invoice on the gateway's side: the next check fails and names it.
    path = tmp_path / "out" / "invoices" / "INV-2026-10-globex.json"
    edited = json.loads(path.read_text())
    edited["lines"][0]["amount"] = "0.02"
    path.write_text(json.dumps(edited))
    (check,) = materialize(settings, home, tmp_path / "out").get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["mismatches"].value == [
        {"invoice_id": "INV-2026-10-globex", "ours": "2.36 EUR", "gateway": "2.37 EUR"}
    ]


def test_asset_fails_for_a_period_not_finalized(client, settings, home, tmp_path):
    result = materialize(settings, home, tmp_path / "out")
    assert not result.success
