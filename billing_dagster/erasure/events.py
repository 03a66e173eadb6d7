"""Erasing a customer's personal event properties in the warehouse: the stored events
(their properties, and the content hash that compares later copies) and the raw lines kept
in quarantine."""

from __future__ import annotations

from datetime import date

from clickhouse_connect.driver.client import Client

from billing_dagster.erasure.pseudonyms import PREFIX, erase_line, sql_pseudonym
from billing_dagster.ingest.loader import content_hash_sql

#: Mutations wait until done; the statements carry the key, so they stay out of query logs.
_SETTINGS = {"mutations_sync": 2, "log_queries": 0}

_ERASED_PROPERTIES = (
    f"mapApply((k, v) -> (k, if(has({{pii:Array(String)}}, k), {sql_pseudonym('v')}, v)), "
    f"properties)"
)
_NOT_ERASED_YET = (
    f"arrayExists((k, v) -> has({{pii:Array(String)}}, k) AND NOT startsWith(v, '{PREFIX}'), "
    f"mapKeys(properties), mapValues(properties))"
)


def erase_events(
    client: Client, database: str, customer_id: str, pii: tuple[str, ...], key: bytes
) -> int:
    """Replace the values of `pii` in the customer's stored events; returns the events
    changed (0 when every value is erased already)."""
    where = f"customer_id = {{customer:String}} AND {_NOT_ERASED_YET}"
    parameters = {"customer": customer_id, "pii": list(pii), "key": key.hex()}
    changed = int(
        client.command(
            f"SELECT count() FROM `{database}`.raw_events WHERE {where}", parameters=parameters
        )
    )
    if changed:
        client.command(
            f"ALTER TABLE `{database}`.raw_events UPDATE properties = {_ERASED_PROPERTIES}, "
            f"content_hash = {content_hash_sql(properties=_ERASED_PROPERTIES)} WHERE {where}",
            parameters=parameters,
            settings=_SETTINGS,
        )
    return changed


def event_days(client: Client, database: str, customer_id: str) -> list[date]:
    """The days the customer has events on: the days whose usage is metered again."""
    rows = client.query(
        f"SELECT DISTINCT event_date FROM `{database}`.raw_events "
        f"WHERE customer_id = {{customer:String}} ORDER BY event_date",
        parameters={"customer": customer_id},
    ).result_rows
    return [day for (day,) in rows]


def erase_quarantined_lines(
    client: Client, database: str, customer_id: str, pii: tuple[str, ...], key: bytes
) -> int:
    """Rewrite the customer's raw lines in quarantine (`erase_line`); returns those changed."""
    rows = client.query(
        f"SELECT load_seq, line_no, raw_line FROM `{database}`.quarantined_events "
        f"WHERE position(raw_line, {{customer:String}}) > 0",
        parameters={"customer": customer_id},
    ).result_rows
    rewritten = {
        f"{seq}:{line_no}": erased
        for seq, line_no, line in rows
        if (erased := erase_line(line, customer_id, pii, key)) != line
    }
    if rewritten:
        where = "concat(toString(load_seq), ':', toString(line_no))"
        client.command(
            f"ALTER TABLE `{database}`.quarantined_events "
            f"UPDATE raw_line = mapFromArrays({{keys:Array(String)}}, {{lines:Array(String)}})"
            f"[{where}] WHERE {where} IN {{keys:Array(String)}}",
            parameters={"keys": list(rewritten), "lines": list(rewritten.values())},
            settings=_SETTINGS,
        )
    return len(rewritten)
