"""Where an event is in the event store: its first copy (loaded, with the metrics it counts
under), its later copies (duplicates and conflicts) and the lines quarantined under its
key. Only committed loads count (the load ledger)."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from billing_dagster.catalog.store import IN_FORCE


@dataclass
class EventWhereabouts:
    customer_id: str
    event_id: str
    status: str  # received | loaded | quarantined
    loaded: dict | None = None
    duplicates: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)

    @classmethod
    def received(cls, customer_id: str, event_id: str) -> EventWhereabouts:
        """Stored by the API, waiting for the ingest job."""
        return cls(customer_id, event_id, "received")

    def document(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "event_id": self.event_id,
            "status": self.status,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "quarantined": self.quarantined,
            "metrics": self.metrics,
        }


def event_whereabouts(
    client: Client, database: str, customer_id: str, event_id: str
) -> EventWhereabouts | None:
    db = f"`{database}`"
    committed = f"load_seq IN (SELECT load_seq FROM {db}.event_loads)"
    key = {"customer": customer_id, "event": event_id}
    loaded = client.query(
        f"SELECT e.load_seq, l.file_name, e.line_no, e.event_name, e.properties "
        f"FROM {db}.raw_events AS e INNER JOIN {db}.event_loads AS l USING load_seq "
        f"WHERE e.customer_id = {{customer:String}} AND e.event_id = {{event:String}} "
        f"ORDER BY e.load_seq, e.line_no LIMIT 1",
        parameters=key,
    ).result_rows
    copies = client.query(
        f"SELECT d.is_conflict, d.load_seq, l.file_name, d.line_no "
        f"FROM {db}.event_duplicates AS d INNER JOIN {db}.event_loads AS l USING load_seq "
        f"WHERE d.customer_id = {{customer:String}} AND d.event_id = {{event:String}} "
        f"ORDER BY d.load_seq, d.line_no",
        parameters=key,
    ).result_rows
    quarantined = client.query(
        f"SELECT load_seq, file_name, line_no, reason FROM {db}.quarantined_events "
        f"WHERE {committed} AND JSONExtractString(raw_line, 'customer_id') = {{customer:String}} "
        f"AND JSONExtractString(raw_line, 'event_id') = {{event:String}} "
        f"ORDER BY load_seq, line_no",
        parameters=key,
    ).result_rows
    if not (loaded or quarantined):
        return None
    found = EventWhereabouts(customer_id, event_id, "loaded" if loaded else "quarantined")
    for is_conflict, seq, name, line in copies:
        (found.conflicts if is_conflict else found.duplicates).append(_copy(seq, name, line))
    found.quarantined = [
        {**_copy(seq, name, line), "reason": reason} for seq, name, line, reason in quarantined
    ]
    if loaded:
        seq, name, line, event_name, properties = loaded[0]
        found.loaded = _copy(seq, name, line)
        found.metrics = _metrics_of(client, db, event_name, properties)
    return found


def _copy(load_seq: int, file_name: str, line_no: int) -> dict:
    return {"file_name": file_name, "load_seq": load_seq, "line_no": line_no}


def _metrics_of(client: Client, db: str, event_name: str, properties: dict[str, str]) -> list[str]:
    """Metrics of the catalog in force whose event and filters the event matches."""
    rows = client.query(
        f"SELECT code, filters FROM {db}.catalog_metrics WHERE {IN_FORCE.format(db=db)} "
        f"AND event_name = {{name:String}} ORDER BY code",
        parameters={"name": event_name},
    ).result_rows
    return [
        code
        for code, filters in rows
        if all(properties.get(name) in values for name, values in filters.items())
    ]
