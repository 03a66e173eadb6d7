"""The monthly partner statements, made from a finalized period's documents (docs/partners.md)."""

import dagster as dg

from billing_dagster.defs.partitions import billing_periods
from billing_dagster.defs.resources import ClickHouseResource
from billing_dagster.partners.statements import statements_json
from billing_dagster.partners.store import StatementRefused, partner_statements
from billing_dagster.periods import period_of_partition


@dg.asset(
    partitions_def=billing_periods,
    deps=["invoice_finalizations", "finalized_documents"],
    group_name="partners",
    kinds={"python", "clickhouse"},
)
def partner_statement_lines(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource):
    """Each partner's share of what its customers were billed in the period: made once from
    the finalized documents, never rewritten; a later correction reaches the statement of the
    period that carries it."""
    period = period_of_partition(context.partition_key)
    try:
        lines = partner_statements(clickhouse.get_client(), clickhouse.database, period)
    except StatementRefused as refused:
        raise dg.Failure(str(refused)) from refused
    statements = statements_json(period, lines)
    return dg.MaterializeResult(
        metadata={
            "period": period,
            "partners": len(statements),
            "lines": len(lines),
            "totals": dg.MetadataValue.json({s["partner_id"]: s["totals"] for s in statements}),
        }
    )


partner_statements_job = dg.define_asset_job(
    "partner_statements_job",
    selection=dg.AssetSelection.assets(partner_statement_lines),
    description="Make the partner statements of a finalized period.",
)
