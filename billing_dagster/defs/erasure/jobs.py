"""`erasure_job`: erase one customer (docs/erasure.md). Run from the UI's launchpad with
the customer and the reason, or by `billing erase`, which then meters the customer's days
again so unique counts combine over erased values only."""

import dagster as dg

from billing_dagster.defs.resources import BillingHomeResource, ClickHouseResource
from billing_dagster.defs.sync.resources import GatewayResource
from billing_dagster.erasure.erase import ErasureRefused, erase_customer


class ErasureRequest(dg.Config):
    customer_id: str
    reason: str


@dg.op
def erase(
    context: dg.OpExecutionContext,
    config: ErasureRequest,
    clickhouse: ClickHouseResource,
    billing_home: BillingHomeResource,
    gateway: GatewayResource,
) -> None:
    """Replace the customer's personal event properties with keyed hashes and its name with
    a tombstone, everywhere stored, ask its gateways to erase it, and record the erasure.
    Logs counts only: no erased value is ever written to the run's log."""
    try:
        erasure = erase_customer(
            clickhouse.get_client(),
            clickhouse.database,
            billing_home.path,
            config.customer_id,
            config.reason,
            gateway.get_gateways(),
            run_id=context.run_id,
        )
    except ErasureRefused as refused:
        raise dg.Failure(str(refused)) from refused
    context.log.info(
        f"erased {erasure.customer_id}: {erasure.events} events, {erasure.quarantined_lines} "
        f"quarantined lines, {erasure.landing_files} landed files, {erasure.catalog_versions} "
        f"catalog versions; gateways: {erasure.gateways or 'none'}"
    )
    context.add_output_metadata(
        {"summary": dg.MetadataValue.json(erasure.summary()), "days": len(erasure.days)}
    )
    if erasure.gateway_failures:
        raise dg.Failure(
            f"erasure recorded, but not at {', '.join(erasure.gateway_failures)}: "
            f"run it again once the gateway answers (it changes nothing else)"
        )


@dg.job(description="Erase a customer's personal data (GDPR), keeping its invoices; audited.")
def erasure_job():
    erase()
