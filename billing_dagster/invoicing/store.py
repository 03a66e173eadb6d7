"""Invoices in the warehouse: rated usage read from dbt, billing runs written atomically.

A billing run writes its invoices and lines, then its `billing_runs` row; readers take the
latest committed run of a period, so a run that dies midway is never seen and a re-run
replaces nothing in place. The invoice JSON is stored as text, exactly as printed.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.model import Customer
from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.assemble import PeriodUsage, RatedUsage
from billing_dagster.invoicing.documents import CreditNote, Invoice, InvoiceLine
from billing_dagster.metering.local_days import local_day_slack
from billing_dagster.periods import next_period, period_of

#: The fields of `fct_rated_usage.tiers` (a named tuple), in invoice lines' order.
_TIER_FIELDS = ("tier", "units", "unit_price", "flat_fee", "amount")


def rated_usage(
    client: Client,
    database: str,
    periods: list[str],
    customers: list[str] | None = None,
    projected_as_of: date | None = None,
) -> dict[str, PeriodUsage]:
    """Rows of `fct_rated_usage` for `periods` (and only `customers`, when given); or, with
    `projected_as_of`, of the usage of that day's period projected to its end
    (`fct_projected_rated_usage`)."""
    source = "fct_rated_usage"
    if projected_as_of is not None:
        source = "fct_projected_rated_usage(as_of = {as_of:Date})"
    where = "period IN {periods:Array(String)}"
    if customers is not None:
        where += " AND customer_id IN {customers:Array(String)}"
    rows = client.query(
        f"SELECT period, subscription_id, metric_code, group_value, quantity, amount, tiers "
        f"FROM `{database}`.{source} WHERE {where}",
        parameters={"periods": periods, "customers": customers or [], "as_of": projected_as_of},
    ).result_rows
    usage: dict[str, dict] = {period: {} for period in periods}
    for period, subscription, metric, group, quantity, amount, tiers in rows:
        breakdown = tuple({name: _text(tier[name]) for name in _TIER_FIELDS} for tier in tiers)
        row = RatedUsage(subscription, metric, group, quantity, amount, breakdown)
        usage[period].setdefault((subscription, metric), []).append(row)
    return usage


class CustomerUsage:
    """`usage_of` for the InvoiceBooks of one customer up to `last_period`: each period's
    rated usage read once. The first earlier period asked for reads all of them since the
    customer's first subscription, in one query: only a customer with credit grants needs
    them, and then needs them all (a grant's balance). One serves the invoice so far, the
    credit balances and the projection of a period, from several threads at once: each
    reads with its own client (`client_of`), and a projected period is read beside the
    exact ones."""

    def __init__(
        self,
        client_of: Callable[[], Client],
        database: str,
        customer: Customer,
        last_period: str,
    ):
        self.client_of, self.database, self.customer = client_of, database, customer
        self.last_period = last_period
        starts = [s.start for s in customer.subscriptions]
        self.periods = [period_of(min(starts))] if starts else []
        while self.periods and self.periods[-1] < last_period:
            self.periods.append(next_period(self.periods[-1]))
        self._read: dict[str, PeriodUsage] = {}
        self._projected: dict[date, PeriodUsage] = {}
        self._reading, self._projecting = threading.Lock(), threading.Lock()

    def __call__(self, period: str) -> PeriodUsage:
        with self._reading:
            if period not in self._read:
                wanted = [period]
                if period != self.last_period and period in self.periods:
                    wanted = [p for p in self.periods if p not in self._read]
                self._read.update(self._rated(wanted))
            return self._read[period]

    def projected(self, as_of: date) -> Callable[[str], PeriodUsage]:
        """The same usage, but `as_of`'s period projected to its end."""
        projected_period = period_of(as_of)

        def usage_of(period: str) -> PeriodUsage:
            if period != projected_period:
                return self(period)
            with self._projecting:
                if as_of not in self._projected:
                    self._projected[as_of] = self._rated([period], as_of)[period]
                return self._projected[as_of]

        return usage_of

    def _rated(self, periods: list[str], projected_as_of: date | None = None) -> dict:
        return rated_usage(
            self.client_of(), self.database, periods, [self.customer.id], projected_as_of
        )


def _text(value: int | Decimal) -> str | int:
    return value if isinstance(value, int) else decimal_text(value)


def finalized_documents(database: str) -> str:
    """The FROM clause of every finalized document (`d`), with its period's finalization."""
    return (
        f"`{database}`.finalized_documents AS d "
        f"INNER JOIN `{database}`.invoice_finalizations AS f "
        f"ON d.billing_run_id = f.billing_run_id AND d.period = f.period"
    )


def invoice_json(invoice: Invoice | CreditNote) -> str:
    return json.dumps(invoice, separators=(",", ":"))


@dataclass(frozen=True)
class BillingRun:
    """What one billing run of a period produced, before it is stored."""

    period: str
    catalog_version: int
    max_load_seq: int  # the loads whose events it billed
    invoices: list[Invoice]
    credit_notes: list[CreditNote] = field(default_factory=list)
    #: (customer, adjusted period) -> the corrected invoice an adjustment or credit note was
    #: computed from (None: the period no longer has an invoice for the customer)
    corrected: dict[tuple[str, str], Invoice | None] = field(default_factory=dict)
    #: Interim invoices due now (threshold invoicing), which the invoices deduct: issued
    #: (interim.write_interim_invoices) before the run is stored.
    interims: list[Invoice] = field(default_factory=list)


def write_billing_run(client: Client, database: str, billing: BillingRun) -> str:
    """Store a billing run; returns its id. The `billing_runs` row is written last: it
    commits the run."""
    db = f"`{database}`"
    run_id = uuid.uuid4().hex
    period, catalog_version, invoices = billing.period, billing.catalog_version, billing.invoices
    if invoices:
        client.insert(
            f"{db}.invoices",
            [
                [run_id, period, i["invoice_id"], i["customer_id"], i["currency"], i["status"]]
                + [Decimal(i[name]) for name in _TOTALS]
                + [catalog_version, invoice_json(i)]
                for i in invoices
            ],
            column_names=[
                "billing_run_id",
                "period",
                "invoice_id",
                "customer_id",
                "currency",
                "status",
                *_TOTALS,
                "catalog_version",
                "document",
            ],
        )
        lines = [
            [run_id, period, i["invoice_id"], number, *_line_columns(line)]
            for i in invoices
            for number, line in enumerate(i["lines"], start=1)
        ]
        client.insert(
            f"{db}.invoice_lines",
            lines,
            column_names=[
                "billing_run_id",
                "period",
                "invoice_id",
                "line_no",
                "kind",
                "code",
                "group_value",
                "plan",
                "plan_version",
                "subscription_id",
                "quantity",
                "amount",
            ],
        )
    if billing.credit_notes:
        client.insert(
            f"{db}.credit_notes",
            [
                [
                    run_id,
                    period,
                    note["credit_note_id"],
                    note["customer_id"],
                    note["adjusts_period"],
                    note["currency"],
                    Decimal(note["total"]),
                    invoice_json(note),
                ]
                for note in billing.credit_notes
            ],
            column_names=[
                "billing_run_id",
                "period",
                "credit_note_id",
                "customer_id",
                "adjusts_period",
                "currency",
                "total",
                "document",
            ],
        )
    if billing.corrected:
        client.insert(
            f"{db}.adjustment_bases",
            [
                [run_id, period, customer, adjusted, invoice_json(doc) if doc else ""]
                for (customer, adjusted), doc in sorted(billing.corrected.items())
            ],
            column_names=[
                "billing_run_id",
                "period",
                "customer_id",
                "adjusts_period",
                "corrected_document",
            ],
        )
    client.insert(
        f"{db}.billing_runs",
        [
            [
                run_id,
                period,
                catalog_version,
                len(invoices),
                datetime.now(UTC),
                billing.max_load_seq,
            ]
        ],
        column_names=[
            "billing_run_id",
            "period",
            "catalog_version",
            "invoices",
            "created_at",
            "max_load_seq",
        ],
    )
    return run_id


_TOTALS = ("charges", "subtotal", "discount", "tax", "credits_applied", "total")


def _line_columns(line: InvoiceLine) -> list:
    """kind, code, group, plan, plan version, subscription, quantity, amount."""
    quantity = Decimal(line["quantity"]) if "quantity" in line else None
    where = [line.get(key) for key in ("code", "group", "plan", "plan_version", "subscription_id")]
    return [line["kind"], *where, quantity, Decimal(line["amount"])]


def latest_run(client: Client, database: str, period: str) -> str | None:
    """The billing run in force for `period`: the finalized one, else the latest."""
    finalized = finalization(client, database, period)
    if finalized:
        return finalized.billing_run_id
    run = client.query(
        f"SELECT argMax(billing_run_id, created_at), count() FROM `{database}`.billing_runs "
        f"WHERE period = {{period:String}}",
        parameters={"period": period},
    ).result_rows[0]
    return run[0] if run[1] else None


def latest_invoices(
    client: Client, database: str, period: str, customer_id: str | None = None
) -> list[Invoice] | None:
    """The invoices in force for `period` (finalized, else the latest draft run), of every
    customer or of `customer_id`; None if never billed."""
    return _documents(client, database, period, "invoice", customer_id)


def latest_credit_notes(
    client: Client, database: str, period: str, customer_id: str | None = None
) -> list[CreditNote] | None:
    """The credit notes issued with `period`'s invoices (of every customer or of
    `customer_id`); None if never billed."""
    return _documents(client, database, period, "credit_note", customer_id)


#: Per document kind: the table of a draft run's documents and the column of their ids.
_DRAFTS = {"invoice": ("invoices", "invoice_id"), "credit_note": ("credit_notes", "credit_note_id")}


def _documents(
    client: Client, database: str, period: str, kind: str, customer_id: str | None
) -> list[dict] | None:
    db = f"`{database}`"
    run_id = latest_run(client, database, period)
    if run_id is None:
        return None
    if finalization(client, database, period):
        source, id_column = f"{db}.finalized_documents", "document_id"
        where = f"document_kind = '{kind}' AND "
    else:
        (table, id_column), where = _DRAFTS[kind], ""
        source = f"{db}.{table}"
    if customer_id is not None:
        where += "customer_id = {customer:String} AND "
    documents = client.query(
        f"SELECT document FROM {source} WHERE {where}billing_run_id = {{run:String}} "
        f"ORDER BY customer_id, {id_column}",
        parameters={"run": run_id, "customer": customer_id},
    ).result_rows
    return [json.loads(document) for (document,) in documents]


# -- finalization -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finalization:
    period: str
    billing_run_id: str
    max_load_seq: int


def finalization(client: Client, database: str, period: str) -> Finalization | None:
    rows = finalizations(client, database, [period])
    return rows[0] if rows else None


def finalizations(
    client: Client, database: str, periods: list[str] | None = None
) -> list[Finalization]:
    """Finalized periods (all, or those of `periods`), oldest first."""
    where = "WHERE period IN {periods:Array(String)}" if periods is not None else ""
    rows = client.query(
        f"SELECT period, any(billing_run_id), any(max_load_seq) "
        f"FROM `{database}`.invoice_finalizations {where} GROUP BY period ORDER BY period",
        parameters={"periods": periods or []},
    ).result_rows
    return [Finalization(period, run, int(loads)) for period, run, loads in rows]


def billed_periods(client: Client, database: str) -> list[str]:
    rows = client.query(
        f"SELECT DISTINCT period FROM `{database}`.billing_runs ORDER BY period"
    ).result_rows
    return [period for (period,) in rows]


def run_load_seq(client: Client, database: str, run_id: str) -> int:
    return int(
        client.command(
            f"SELECT max(max_load_seq) FROM `{database}`.billing_runs "
            f"WHERE billing_run_id = {{run:String}}",
            parameters={"run": run_id},
        )
        or 0
    )


def write_finalization(client: Client, database: str, period: str, run_id: str) -> None:
    """Freeze the run's invoices and credit notes as finalized documents, then commit the
    finalization row; documents of a finalization that died midway are never read, and a
    retry first removes them."""
    db = f"`{database}`"
    client.command(
        f"DELETE FROM {db}.finalized_documents WHERE billing_run_id = {{run:String}}",
        parameters={"run": run_id},
        settings={"mutations_sync": 2},
    )
    documents = []
    for kind, table, id_column in (
        ("invoice", "invoices", "invoice_id"),
        ("credit_note", "credit_notes", "credit_note_id"),
    ):
        rows = client.query(
            f"SELECT {id_column}, document FROM {db}.{table} WHERE billing_run_id = {{run:String}}",
            parameters={"run": run_id},
        ).result_rows
        documents += [
            (kind, document_id, json.loads(document) | {"status": "finalized"})
            for document_id, document in rows
        ]
    commit_finalization(
        client, database, period, run_id, documents, run_load_seq(client, database, run_id)
    )


def commit_finalization(
    client: Client,
    database: str,
    period: str,
    run_id: str,
    documents: list[tuple[str, str, dict]],
    max_load_seq: int,
) -> None:
    """Store (kind, id, document) as the finalized documents of `period`, then the row that
    makes them the finalization in force."""
    db = f"`{database}`"
    if documents:
        client.insert(
            f"{db}.finalized_documents",
            [
                [
                    *(period, run_id, kind, document_id, doc["customer_id"], doc["currency"]),
                    *(Decimal(doc["total"]), invoice_json(doc)),
                ]
                for kind, document_id, doc in documents
            ],
            column_names=[
                "period",
                "billing_run_id",
                "document_kind",
                "document_id",
                "customer_id",
                "currency",
                "total",
                "document",
            ],
        )
    client.insert(
        f"{db}.invoice_finalizations",
        [[period, run_id, max_load_seq, datetime.now(UTC)]],
        column_names=["period", "billing_run_id", "max_load_seq", "finalized_at"],
    )


def billed_versions(client: Client, database: str, period: str) -> dict[str, Invoice]:
    """Per customer, the last billed version of finalized `period`'s invoice: the finalized
    invoice, or the corrected invoice the latest finalized adjustment was computed from."""
    db = f"`{database}`"
    versions = {
        invoice["customer_id"]: invoice for invoice in latest_invoices(client, database, period)
    }
    corrected = client.query(
        f"SELECT b.customer_id, argMax(b.corrected_document, f.period) "
        f"FROM {db}.adjustment_bases AS b "
        f"INNER JOIN {db}.invoice_finalizations AS f ON b.billing_run_id = f.billing_run_id "
        f"WHERE b.adjusts_period = {{period:String}} GROUP BY b.customer_id",
        parameters={"period": period},
    ).result_rows
    for customer, document in corrected:
        if document:
            versions[customer] = json.loads(document)
        else:
            versions.pop(customer, None)
    return versions


def newest_loads(client: Client, database: str) -> dict[str, int]:
    """Per billing period, the newest committed load that changed one of its days (its local
    days: a UTC day reaches the periods of the local days its events may fall on)."""
    slack = local_day_slack(client, database)
    return dict(
        client.query(
            f"SELECT formatDateTime(arrayJoin([day - {slack}, day, day + {slack}]), '%Y-%m') "
            f"AS period, max(load_seq) "
            f"FROM `{database}`.event_loads ARRAY JOIN event_dates AS day GROUP BY period"
        ).result_rows
    )


def latest_run_load_seq(client: Client, database: str) -> dict[str, int]:
    """Per billed period, the loads its billing run in force has seen."""
    rows = client.query(
        f"SELECT period, argMax(max_load_seq, created_at) FROM `{database}`.billing_runs "
        f"GROUP BY period"
    ).result_rows
    seen = {period: int(loads) for period, loads in rows}
    seen.update({f.period: f.max_load_seq for f in finalizations(client, database)})
    return seen


def late_periods(client: Client, database: str, before: str) -> list[str]:
    """Finalized periods before `before` with events that no finalized billing has seen.

    Periods are finalized in order and each finalization bills the late data of every
    earlier period, so a period has seen the loads up to the highest `max_load_seq` of its
    own finalization and of every later one.
    """
    done = finalizations(client, database)
    newest = newest_loads(client, database)
    late = []
    for position, final in enumerate(done):
        seen = max(later.max_load_seq for later in done[position:])
        if final.period < before and newest.get(final.period, 0) > seen:
            late.append(final.period)
    return late


def last_billed_period(client: Client, database: str) -> str | None:
    period = client.command(f"SELECT max(period) FROM `{database}`.billing_runs")
    return period or None
