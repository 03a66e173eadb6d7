"""The `disputes` table: append-only, a row each time a pull sees a dispute in a state other
than the last one recorded, so the rows are its history and the latest is in force."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from billing_dagster.entitlements.exact import as_utc
from billing_dagster.invoicing.assemble import money_text


@dataclass(frozen=True)
class DisputeState:
    gateway: str
    dispute_id: str
    invoice_id: str
    period: str
    customer_id: str
    gateway_invoice_id: str
    amount: Decimal
    currency: str
    reason: str
    status: str  # opened | won | lost
    gateway_status: str
    opened_at: datetime

    def changed_from(self, recorded: DisputeState | None) -> bool:
        """A new state to record: a dispute never seen, or its status (ours or the
        gateway's) or its amount moved."""
        return recorded is None or (self.status, self.gateway_status, self.amount) != (
            recorded.status,
            recorded.gateway_status,
            recorded.amount,
        )


_COLUMNS = [f.name for f in fields(DisputeState)]
#: A dispute's latest state, grouped by (gateway, dispute_id): `_state` reads a row of it.
_LATEST = "gateway, dispute_id, " + ", ".join(f"argMax({c}, observed_at)" for c in _COLUMNS[2:])


def _state(row) -> DisputeState:
    return DisputeState(*row[:11], as_utc(row[11]))


def latest_states(client: Client, database: str, gateway: str) -> dict[str, DisputeState]:
    """The last recorded state of each dispute of the gateway, by dispute id."""
    rows = client.query(
        f"SELECT {_LATEST} FROM `{database}`.disputes "
        f"WHERE gateway = {{gateway:String}} GROUP BY gateway, dispute_id",
        parameters={"gateway": gateway},
    ).result_rows
    return {row[1]: _state(row) for row in rows}


def record_changes(
    client: Client, database: str, observed: list[DisputeState], recorded: dict[str, DisputeState]
) -> int:
    """Append the observed states of one gateway that differ from `recorded`, its last
    recorded ones (`latest_states`, read under the home's disputes lock the caller holds, so
    two pulls never record one change twice); how many."""
    changed = [state for state in observed if state.changed_from(recorded.get(state.dispute_id))]
    if changed:
        now = datetime.now(UTC)
        client.insert(
            f"`{database}`.disputes",
            [[*astuple(state), now] for state in changed],
            column_names=[*_COLUMNS, "observed_at"],
        )
    return len(changed)


def dispute_history(client: Client, database: str, period: str | None = None) -> list[dict]:
    """Each dispute's latest state (of invoices of `period`, or all), with when it was
    opened on the gateway and when we first saw it decided; oldest first (then by invoice)."""
    having = "HAVING argMax(period, observed_at) = {period:String}" if period else ""
    rows = client.query(
        f"SELECT {_LATEST}, "
        f"minIf(observed_at, status != 'opened'), countIf(status != 'opened') "
        f"FROM `{database}`.disputes GROUP BY gateway, dispute_id {having} "
        f"ORDER BY argMax(opened_at, observed_at), argMax(invoice_id, observed_at), dispute_id",
        parameters={"period": period or ""},
    ).result_rows
    history = []
    for *columns, closed_at, decided in rows:
        state = _state(columns)
        history.append(
            {
                **{c: getattr(state, c) for c in _COLUMNS},
                "amount": money_text(state.amount, state.currency),
                "opened_at": state.opened_at.isoformat(),
                "closed_at": as_utc(closed_at).isoformat() if decided else None,
            }
        )
    return history


#: The mark disputes put on an invoice, worst first: one lost marks it lost.
_MARKS = ("lost", "opened", "won")


def disputed_invoices(history: list[dict]) -> list[dict]:
    """Per invoice with a dispute opened or lost (`dispute_history`), its mark: `lost` when
    any was lost, else `opened`; the invoice itself is never changed."""
    by_invoice: dict[str, list[dict]] = {}
    for dispute in history:
        by_invoice.setdefault(dispute["invoice_id"], []).append(dispute)
    marked = []
    for invoice_id, disputes in sorted(by_invoice.items()):
        mark = min((d["status"] for d in disputes), key=_MARKS.index)
        if mark != "won":
            first = disputes[0]
            marked.append(
                {
                    "invoice_id": invoice_id,
                    "customer_id": first["customer_id"],
                    "period": first["period"],
                    "dispute_status": mark,
                    "disputes": len(disputes),
                }
            )
    return marked
