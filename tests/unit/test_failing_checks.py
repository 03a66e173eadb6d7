"""Which asset checks `billing status` and the data-quality webhooks call failing: a failed
evaluation is; one only planned (its asset failed before the check ran) is not, and reading
it does not fail either."""

import dagster as dg

from billing_dagster.defs.quality.failing import failing_checks


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers(context: dg.AssetExecutionContext):
    if context.run.tags.get("break") == "asset":
        raise ValueError("the asset failed before its check ran")
    passed = context.run.tags.get("break") != "check"
    yield dg.Output(1)
    yield dg.AssetCheckResult(passed=passed, check_name="positive", description="numbers > 0")


def test_a_failed_check_fails_and_a_planned_one_does_not():
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(assets=[numbers]).resolve_implicit_global_asset_job_def()
    key = dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")

    run = job.execute_in_process(instance=instance, tags={"break": "asset"}, raise_on_error=False)
    assert not run.success
    assert failing_checks(instance, [key]) == []

    run = job.execute_in_process(instance=instance, tags={"break": "check"})
    assert failing_checks(instance, [key]) == [
        {
            "check": "numbers:positive",
            "severity": "ERROR",
            "partition": None,
            "description": "numbers > 0",
            "run_id": run.run_id,
        }
    ]
