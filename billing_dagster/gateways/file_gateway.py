"""A gateway that writes invoices and credit notes as JSON files to a directory.

For users who integrate with another system by picking up files, and the proof that the
sync needs nothing Stripe-specific. Each file is replaced atomically (written aside, then
renamed), so a reader never sees half a document and a killed sync leaves none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from billing_dagster.erasure.tombstones import TOMBSTONE
from billing_dagster.gateways.base import GatewayError, RemoteDocument, RemoteLine, minor_units
from billing_dagster.invoicing.documents import CreditNote, Invoice


class FileGateway:
    name = "file"
    whole_documents = False
    reports_disputes = False

    def __init__(self, directory: str | Path):
        if not str(directory):
            raise GatewayError(
                "the file gateway needs a directory: set BILLING_GATEWAY_DIR to where the "
                "invoices are written"
            )
        self.directory = Path(directory)
        for kind in ("customers", "invoices", "credit_notes"):
            (self.directory / kind).mkdir(parents=True, exist_ok=True)

    def _path(self, kind: str, document_id: str) -> Path:
        if "/" in document_id or document_id.startswith("."):
            raise GatewayError(f"{kind} id {document_id!r} cannot be a file name")
        return self.directory / kind / f"{document_id}.json"

    def _read(self, kind: str, document_id: str) -> dict | None:
        path = self._path(kind, document_id)
        return json.loads(path.read_text()) if path.exists() else None

    def _write(self, kind: str, document_id: str, content: dict) -> None:
        path = self._path(kind, document_id)
        aside = path.with_suffix(".json.tmp")
        aside.write_text(json.dumps(content, indent=2) + "\n")
        os.replace(aside, path)

    def _invoice(self, gateway_invoice: str) -> dict:
        content = self._read("invoices", gateway_invoice)
        if content is None:
            raise GatewayError(f"invoice {gateway_invoice} is not in {self.directory}/invoices")
        return content

    def find_customer(self, customer_id: str) -> str | None:
        return customer_id if self._read("customers", customer_id) else None

    def create_customer(self, customer_id: str, name: str) -> str:
        self._write("customers", customer_id, {"customer_id": customer_id, "name": name})
        return customer_id

    def erase_customer(self, gateway_customer: str) -> str:
        self._write(
            "customers", gateway_customer, {"customer_id": gateway_customer, "name": TOMBSTONE}
        )
        return "name redacted"

    def find_invoice(self, gateway_customer: str, invoice: Invoice) -> RemoteDocument | None:
        content = self._read("invoices", invoice["invoice_id"])
        return _document(content) if content else None

    def create_invoice(self, gateway_customer: str, invoice: Invoice) -> str:
        document = {key: value for key, value in invoice.items() if key != "lines"}
        self._write("invoices", invoice["invoice_id"], document | {"status": "draft", "lines": []})
        return invoice["invoice_id"]

    def find_lines(self, gateway_invoice: str, invoice: Invoice) -> dict[int, RemoteLine]:
        return {
            line["line_no"]: _line(gateway_invoice, line, invoice["currency"])
            for line in self._invoice(gateway_invoice)["lines"]
        }

    def create_line(
        self, gateway_customer: str, gateway_invoice: str, invoice: Invoice, line_no: int
    ) -> RemoteLine:
        content = self._invoice(gateway_invoice)
        if content["status"] != "draft":
            raise GatewayError(f"invoice {gateway_invoice} is {content['status']}: no new lines")
        line = {"line_no": line_no} | invoice["lines"][line_no - 1]
        content["lines"].append(line)
        self._write("invoices", gateway_invoice, content)
        return _line(gateway_invoice, line, invoice["currency"])

    def fetch_invoice(self, gateway_invoice: str) -> RemoteDocument:
        return _document(self._invoice(gateway_invoice))

    def _set_status(self, gateway_invoice: str, status: str) -> RemoteDocument:
        content = self._invoice(gateway_invoice)
        content["status"] = status
        self._write("invoices", gateway_invoice, content)
        return _document(content)

    def finalize_invoice(self, gateway_invoice: str) -> RemoteDocument:
        return self._set_status(gateway_invoice, "open")

    def send_invoice(self, gateway_invoice: str) -> None:
        """Nothing to send: the file in the directory is the delivery."""

    def void_invoice(self, gateway_invoice: str) -> None:
        self._set_status(gateway_invoice, "void")

    def find_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument | None:
        content = self._read("credit_notes", note["credit_note_id"])
        return _credit_note(content) if content else None

    def create_credit_note(self, gateway_invoice: str, note: CreditNote) -> RemoteDocument:
        content = note | {"status": "issued", "gateway_invoice": gateway_invoice}
        self._write("credit_notes", note["credit_note_id"], content)
        return _credit_note(content)


def _document(content: dict) -> RemoteDocument:
    total = sum(minor_units(line["amount"], content["currency"]) for line in content["lines"])
    return RemoteDocument(content["invoice_id"], content["status"], content["currency"], total)


def _credit_note(content: dict) -> RemoteDocument:
    currency = content["currency"]
    return RemoteDocument(
        content["credit_note_id"],
        content["status"],
        currency,
        minor_units(content["total"], currency),
    )


def _line(gateway_invoice: str, line: dict, currency: str) -> RemoteLine:
    return RemoteLine(f"{gateway_invoice}#{line['line_no']}", minor_units(line["amount"], currency))
