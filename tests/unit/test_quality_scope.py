"""A check that cannot run is a failed ERROR result, not a failed run: the load, metering
or billing it follows is already committed."""

import dagster as dg

from billing_dagster.defs.partitions import landing_days
from billing_dagster.defs.quality.scope import RAW_EVENTS, partitioned_check


@partitioned_check(RAW_EVENTS, "broken", landing_days, "Always raises.")
def broken(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    raise KeyError("file_name")


def test_a_check_that_raises_is_an_error_result_and_the_run_succeeds():
    job = dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(broken))
    result = (
        dg.Definitions(asset_checks=[broken], jobs=[job])
        .resolve_job_def("check_only")
        .execute_in_process(
            tags={"dagster/partition": "2026-10-01"}, instance=dg.DagsterInstance.ephemeral()
        )
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert result.success
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.description == "broken could not run: KeyError: 'file_name'"
