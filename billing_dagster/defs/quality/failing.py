"""The asset checks whose latest evaluation did not pass, as `billing status` and the
`data_quality.failed` webhooks tell them. A check only planned so far (its run still going,
or stopped before it) has no result yet: it is not failing."""

import dagster as dg


def failing_checks(instance: dg.DagsterInstance, keys) -> list[dict]:
    failing = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        record = instance.get_latest_asset_check_evaluation_record(key)
        evaluation = record.evaluation if record else None
        if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
            failing.append(
                {
                    "check": key.to_user_string(),
                    "severity": evaluation.severity.value,
                    "partition": record.partition,
                    "description": evaluation.description,
                    "run_id": record.run_id,
                }
            )
    return failing
