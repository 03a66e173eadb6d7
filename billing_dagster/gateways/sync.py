"""Exactly-once sync of a finalized period's invoices and credit notes to a gateway.

For each document: the ledger says what the gateway already holds; anything it does not know
is looked up on the gateway (by our ids in metadata) before it is created, and after a
transient error the look-up runs again before the create is retried. So a lost response, a
killed run or a re-run never creates a second customer, invoice, line or credit note. A
document that fails for good is recorded as failed with the reason and the others go on;
when the gateway itself fails (credentials refused, or still unreachable after every retry)
the rest are not attempted and are listed as failed with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TypeVar

from clickhouse_connect.driver.client import Client

from billing_dagster.gateways.base import (
    Gateway,
    GatewayAuthenticationError,
    GatewayError,
    NotYetRepresentable,
    RefusingGateway,
    RemoteDocument,
    TransientGatewayError,
    minor_units,
)
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.ledger import (
    CREATED,
    FAILED,
    SYNCED,
    VOIDED,
    LedgerEntry,
    SyncLedger,
    from_minor,
    holding_gateways,
)
from billing_dagster.gateways.retry import RetryPolicy
from billing_dagster.invoicing.documents import CreditNote, Invoice
from billing_dagster.invoicing.interim import interim_invoices
from billing_dagster.invoicing.refunds import refunds
from billing_dagster.invoicing.store import finalization, latest_credit_notes, latest_invoices
from billing_dagster.invoicing.voids import voids
from billing_dagster.webhooks.documents import announce_synced

T = TypeVar("T")

#: Documents whose ledger rows are inserted together; see `ledger.py` for why that is safe.
LEDGER_BATCH = 25


class SyncRefused(ValueError):
    """The period cannot be synced (not finalized); the message says what to do."""


@dataclass
class SyncSummary:
    period: str
    gateway: str  # the gateways the documents went to, comma-separated
    synced: list[str] = field(default_factory=list)
    already_synced: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    #: Documents the gateway cannot take yet (not a failure; the next sync tries again).
    pending: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def add(self, other: SyncSummary) -> None:
        for outcome in ("synced", "already_synced", "voided", "pending", "failed"):
            getattr(self, outcome).extend(getattr(other, outcome))

    def as_json(self) -> dict:
        return {
            "period": self.period,
            "gateway": self.gateway,
            "synced": self.synced,
            "already_synced": self.already_synced,
            "voided": self.voided,
            "pending": self.pending,
            "failed": self.failed,
        }


def sync_period(
    client: Client, database: str, gateways: Gateways, period: str, retry: RetryPolicy
) -> SyncSummary:
    """Push the finalized invoices and credit notes of `period` (refunds of its invoices
    among them) and its interim invoices, already final while it is open, each to its
    customer's gateway; safe to run any number of times, and after
    any interruption."""
    final = finalization(client, database, period)
    interims = interim_invoices(client, database, period)
    if not final and not interims:
        raise SyncRefused(
            f"period {period} is not finalized: only finalized invoices are synced; run "
            f"`billing finalize --period {period}` first"
        )
    invoices, notes = interims, refunds(client, database, period)
    if final:
        invoices = interims + (latest_invoices(client, database, period) or [])
        notes = (latest_credit_notes(client, database, period) or []) + notes
    routes = _routes(client, database, gateways.default, invoices, notes)
    names = sorted(set(routes.values()))
    summary = SyncSummary(period, ", ".join(names) or gateways.default)
    for name in names:
        mine = [i for i in invoices if routes[i["invoice_id"]] == name]
        my_notes = [n for n in notes if routes[n["credit_note_id"]] == name]
        syncer = _PeriodSync(client, database, gateways.get(name), retry, period, mine, my_notes)
        done = syncer.sync_all()
        summary.add(done)
        announce_synced(client, database, name, period, done.synced + done.already_synced)
    return summary


def _routes(
    client: Client,
    database: str,
    default: str,
    invoices: list[Invoice],
    notes: list[CreditNote],
) -> dict[str, str]:
    """The gateway of each document: the one that already holds it (a customer who moved to
    another gateway keeps their old documents where they are), for a credit note the one that
    holds its invoice, else the customer's gateway in the latest catalog, else the default."""
    ids = [i["invoice_id"] for i in invoices] + [n["credit_note_id"] for n in notes]
    held = holding_gateways(client, database, ids + [n["adjusts_invoice"] for n in notes])
    chosen = dict(
        client.query(
            f"SELECT customer_id, argMax(gateway, catalog_version) "
            f"FROM `{database}`.catalog_customers GROUP BY customer_id"
        ).result_rows
    )

    def of(document_id: str, customer_id: str, *also: str) -> str:
        for candidate in (document_id, *also):
            if candidate in held:
                return held[candidate]
        return chosen.get(customer_id) or default

    routes = {i["invoice_id"]: of(i["invoice_id"], i["customer_id"]) for i in invoices}
    for n in notes:
        routes[n["credit_note_id"]] = of(
            n["credit_note_id"], n["customer_id"], n["adjusts_invoice"]
        )
    return routes


class _PeriodSync:
    def __init__(
        self,
        client: Client,
        database: str,
        gateway: Gateway,
        retry: RetryPolicy,
        period: str,
        invoices: list[Invoice],
        notes: list[CreditNote],
    ):
        self.gateway, self.retry = gateway, retry
        self.invoices, self.notes = invoices, notes
        self.ledger = SyncLedger(client, database, gateway.name)
        ids = [i["invoice_id"] for i in invoices] + [n["credit_note_id"] for n in notes]
        adjusted = [n["adjusts_invoice"] for n in notes]
        self.entries = self.ledger.entries(ids + adjusted)
        self.lines = self.ledger.lines([i["invoice_id"] for i in invoices])
        self.customers = self.ledger.customers()
        self.names = _customer_names(client, database)
        self.voided = set(voids(client, database, [i["invoice_id"] for i in invoices]))
        self.summary = SyncSummary(period, gateway.name)

    def sync_all(self) -> SyncSummary:
        """Every document of this gateway; ledger rows go in every `LEDGER_BATCH` invoices."""
        try:
            for number, invoice in enumerate(self.invoices, start=1):
                self.run(invoice, "invoice", lambda invoice=invoice: self.invoice(invoice))
                if number % LEDGER_BATCH == 0:
                    self.ledger.flush()
            self.ledger.flush()  # credit notes look up the ledger entries of their invoices
            for note in self.notes:
                self.run(note, "credit_note", lambda note=note: self.credit_note(note))
        finally:
            self.ledger.flush()
        return self.summary

    def run(self, document: Invoice | CreditNote, kind: str, sync: Callable[[], str]) -> None:
        """Sync one document; a gateway error fails it alone, with its reason recorded. An
        error of the gateway as a whole (credentials refused, unreachable after every retry)
        stops every later request: documents that need one fail unattempted."""
        document_id = document[f"{kind}_id"]
        try:
            outcome = sync()
        except NotYetRepresentable as waiting:
            self.summary.pending.append({"id": document_id, "reason": str(waiting)})
            return
        except GatewayError as error:
            self.summary.failed.append({"id": document_id, "reason": str(error)})
            entry = self.entries.get(document_id) or _entry(document, kind, "", FAILED)
            self._record(replace(entry, state=FAILED, message=str(error)))
            if isinstance(error, TransientGatewayError | GatewayAuthenticationError):
                name = self.gateway.name
                self.gateway = RefusingGateway(
                    name,
                    self.gateway.whole_documents,
                    GatewayError,
                    f"not attempted: {name} failed on {document_id}: {error}",
                )
            return
        getattr(self.summary, outcome).append(document_id)

    def _record(self, entry: LedgerEntry) -> LedgerEntry:
        self.ledger.record(entry)
        self.entries[entry.document_id] = entry
        return entry

    def _find_or_create(self, find: Callable[[], T | None], create: Callable[[], T], what: str):
        """(object, created?) with a look-up before every create attempt."""

        def attempt() -> tuple[T, bool]:
            found = find()
            return (found, False) if found is not None else (create(), True)

        return self.retry.call(attempt, what)

    # -- invoices ---------------------------------------------------------------------

    def customer(self, customer_id: str) -> tuple[str, bool]:
        """The customer's gateway id, and whether it was created just now (so it has no
        invoices there yet)."""
        known = self.customers.get(customer_id)
        if known:
            return known, False
        gateway_id, created = self._find_or_create(
            lambda: self.gateway.find_customer(customer_id),
            lambda: self.gateway.create_customer(customer_id, self.names.get(customer_id, "")),
            f"customer {customer_id}",
        )
        self.ledger.record_customer(customer_id, gateway_id)
        self.customers[customer_id] = gateway_id
        return gateway_id, created

    def invoice(self, invoice: Invoice) -> str:
        invoice_id, currency = invoice["invoice_id"], invoice["currency"]
        entry = self.entries.get(invoice_id)
        if invoice_id in self.voided:
            return self.void(invoice, entry)
        if entry is not None and entry.state == SYNCED:
            return "already_synced"
        _check_lines_sum(invoice)
        if self.gateway.whole_documents and Decimal(invoice["total"]) == 0:
            # Chargebee and Razorpay issue no invoice without a charge: nothing to collect.
            entry = _entry(invoice, "invoice", "", SYNCED)
            self._record(replace(entry, message=f"zero total: not sent to {self.gateway.name}"))
            return "synced"
        customer, new_customer = self.customer(invoice["customer_id"])
        created_now = False
        if entry is None or not entry.gateway_document_id:
            # A customer created just now has no invoices: no look-up on the first attempt
            # (a retry looks up: the failed attempt may have created it).
            looked_up = [not new_customer]

            def find() -> str | None:
                if not looked_up[0]:
                    looked_up[0] = True
                    return None
                return _id_of(self.gateway.find_invoice(customer, invoice))

            remote, created_now = self._find_or_create(
                find,
                lambda: self.gateway.create_invoice(customer, invoice),
                f"invoice {invoice_id}",
            )
            entry = self._record(_entry(invoice, "invoice", remote, CREATED))
        if not self.gateway.whole_documents:
            self.push_lines(invoice, entry, customer, known_empty=created_now)
        remote = self.finalize(invoice, entry)
        # A paid (zero-total) invoice is not sent: there is nothing to collect.
        if remote.status == "open":
            self.retry.call(
                lambda: self.gateway.send_invoice(remote.gateway_id),
                f"sending invoice {invoice_id}",
            )
        self._record(replace(entry, state=SYNCED, gateway_total=_total(remote, currency)))
        return "synced"

    def push_lines(
        self, invoice: Invoice, entry: LedgerEntry, customer: str, known_empty: bool
    ) -> None:
        """Create every line the gateway does not hold yet; the gateway's list of the
        invoice's lines is read once, and again after any failed attempt."""
        invoice_id, gateway_invoice = invoice["invoice_id"], entry.gateway_document_id
        pushed = self.lines.setdefault(invoice_id, {})
        if len(pushed) == len(invoice["lines"]):
            return
        remote: dict | None = {} if known_empty else None
        confirmed: list[tuple[int, str, str, Decimal]] = []

        def forget(_error: Exception) -> None:
            nonlocal remote
            remote = None

        for line_no, line in enumerate(invoice["lines"], start=1):
            if line_no in pushed:
                continue

            def attempt(line_no: int = line_no):
                nonlocal remote
                if remote is None:
                    remote = self.gateway.find_lines(gateway_invoice, invoice)
                if line_no not in remote:
                    remote[line_no] = self.gateway.create_line(
                        customer, gateway_invoice, invoice, line_no
                    )
                return remote[line_no]

            try:
                created = self.retry.call(
                    attempt, f"line {line_no} of invoice {invoice_id}", on_retry=forget
                )
            except GatewayError:
                self.ledger.record_lines(invoice_id, confirmed)
                raise
            pushed[line_no] = created.gateway_id
            confirmed.append((line_no, line["kind"], created.gateway_id, Decimal(line["amount"])))
        self.ledger.record_lines(invoice_id, confirmed)

    def finalize(self, invoice: Invoice, entry: LedgerEntry) -> RemoteDocument:
        """Finalize on the gateway once its total equals ours; a mismatch stays a draft."""
        expected = minor_units(invoice["total"], invoice["currency"])
        gateway_invoice = entry.gateway_document_id

        def attempt() -> RemoteDocument:
            remote = self.gateway.fetch_invoice(gateway_invoice)
            if remote.total_minor != expected:
                raise GatewayError(
                    f"invoice {invoice['invoice_id']}: {self.gateway.name} invoice "
                    f"{gateway_invoice} totals {_total(remote, invoice['currency'])} but ours is "
                    f"{invoice['total']} {invoice['currency']}; left as a draft there: compare "
                    f"its items with `billing invoices --period {invoice['period']}`"
                )
            if remote.status == "draft":
                remote = self.gateway.finalize_invoice(gateway_invoice)
            return remote

        return self.retry.call(attempt, f"finalizing invoice {invoice['invoice_id']}")

    def void(self, invoice: Invoice, entry: LedgerEntry | None) -> str:
        invoice_id = invoice["invoice_id"]
        if entry is not None and entry.state == VOIDED:
            return "already_synced"
        if entry is None or not entry.gateway_document_id:
            # Never pushed: it is not created on the gateway at all.
            entry = _entry(invoice, "invoice", "", VOIDED)
            self._record(replace(entry, message="voided before it was synced: not on the gateway"))
            return "voided"
        gateway_invoice = entry.gateway_document_id

        def attempt() -> None:
            status = self.gateway.fetch_invoice(gateway_invoice).status
            if status == "paid":
                raise GatewayError(
                    f"invoice {invoice_id} is voided here but paid on {self.gateway.name} "
                    f"({gateway_invoice}): a paid invoice cannot be voided; refund it there"
                )
            if status == "draft":  # a draft cannot be voided, only an issued invoice
                self.gateway.finalize_invoice(gateway_invoice)
            if status != "void":
                self.gateway.void_invoice(gateway_invoice)

        self.retry.call(attempt, f"voiding invoice {invoice_id}")
        self._record(replace(entry, state=VOIDED, message=""))
        return "voided"

    # -- credit notes -----------------------------------------------------------------

    def credit_note(self, note: CreditNote) -> str:
        note_id, currency = note["credit_note_id"], note["currency"]
        entry = self.entries.get(note_id)
        if entry is not None and entry.state == SYNCED:
            return "already_synced"
        target = self.entries.get(note["adjusts_invoice"])
        if target is None or not target.gateway_document_id:
            raise GatewayError(
                f"credit note {note_id} credits invoice {note['adjusts_invoice']}, which is not "
                f"on {self.gateway.name}: run `billing sync --period {note['adjusts_period']}` "
                f"first"
            )

        def create() -> RemoteDocument:
            if note.get("kind") == "refund":
                self._check_paid(note, target.gateway_document_id)
            return self.gateway.create_credit_note(target.gateway_document_id, note)

        remote, _ = self._find_or_create(
            lambda: self.gateway.find_credit_note(target.gateway_document_id, note),
            create,
            f"credit note {note_id}",
        )
        entry = replace(
            _entry(note, "credit_note", remote.gateway_id, SYNCED),
            gateway_total=_total(remote, currency),
        )
        if remote.total_minor != minor_units(note["total"], currency):
            entry = replace(
                entry,
                state=FAILED,
                message=f"credit note {note_id}: {remote.gateway_id} on {self.gateway.name} is "
                f"for {entry.gateway_total} but ours is {note['total']} {currency}",
            )
            self._record(entry)
            raise GatewayError(entry.message)
        self._record(entry)
        return "synced"

    def _check_paid(self, refund: CreditNote, gateway_invoice: str) -> None:
        """A refund returns a payment: on a gateway that does not hold the invoice as paid it
        would become a credit against what is due, so it is refused instead."""
        status = self.gateway.fetch_invoice(gateway_invoice).status
        if status != "paid":
            raise GatewayError(
                f"refund {refund['credit_note_id']}: invoice {refund['adjusts_invoice']} is "
                f"{status} on {self.gateway.name} ({gateway_invoice}), not paid: there is no "
                f"payment to refund there; check its payment before syncing again"
            )


def _entry(document: Invoice | CreditNote, kind: str, gateway_id: str, state: str) -> LedgerEntry:
    return LedgerEntry(
        kind,
        document[f"{kind}_id"],
        document["period"],
        document["customer_id"],
        gateway_id,
        state,
        document["currency"],
        Decimal(document["total"]),
    )


def _id_of(document: RemoteDocument | None) -> str | None:
    return document.gateway_id if document is not None else None


def _total(remote: RemoteDocument, currency: str) -> Decimal:
    return from_minor(remote.total_minor, currency)


def _check_lines_sum(invoice: Invoice) -> None:
    """The gateway sums the items; they must add up to our total before anything is pushed."""
    lines = sum((Decimal(line["amount"]) for line in invoice["lines"]), Decimal(0))
    if lines != Decimal(invoice["total"]):
        raise GatewayError(
            f"invoice {invoice['invoice_id']}: its lines sum to {lines} but its total is "
            f"{invoice['total']} {invoice['currency']}; not synced (a bug in invoice assembly: "
            f"report it with the invoice's JSON)"
        )


def _customer_names(client: Client, database: str) -> dict[str, str]:
    """Each customer's name in the latest catalog that has it."""
    rows = client.query(
        f"SELECT customer_id, argMax(name, catalog_version) FROM `{database}`.catalog_customers "
        f"GROUP BY customer_id"
    ).result_rows
    return dict(rows)
