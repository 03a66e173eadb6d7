"""Reads of the load ledger (`event_loads`): one row per loaded file, keyed by its content
hash, numbered in commit order (`load_seq`), with the days its events changed."""

from __future__ import annotations

from datetime import date

from clickhouse_connect.driver.client import Client

LOAD_COUNTS = ("accepted", "duplicates", "quarantined")


def committed_loads(client: Client, database: str) -> int:
    """The newest committed load (0 before the first)."""
    return int(client.command(f"SELECT max(load_seq) FROM `{database}`.event_loads") or 0)


def days_changed_after(client: Client, database: str, load_seq: int) -> set[date]:
    """Days that loads committed after `load_seq` changed."""
    rows = client.query(
        f"SELECT DISTINCT day FROM `{database}`.event_loads ARRAY JOIN event_dates AS day "
        f"WHERE load_seq > {{seq:UInt64}}",
        parameters={"seq": load_seq},
    ).result_rows
    return {day for (day,) in rows}


def already_loaded(client: Client, database: str, sha256: str) -> bool:
    return bool(
        client.command(
            f"SELECT count() FROM `{database}`.event_loads WHERE file_sha256 = {{sha:String}}",
            parameters={"sha": sha256},
        )
    )


def load_counts(client: Client, database: str, sha256s: list[str]) -> dict[str, int]:
    """Accepted, duplicate and quarantined events of the loads of these files, summed."""
    row = client.query(
        f"SELECT sum(accepted), sum(duplicates), sum(quarantined) "
        f"FROM `{database}`.event_loads WHERE file_sha256 IN {{shas:Array(String)}}",
        parameters={"shas": sha256s},
    ).result_rows[0]
    return dict(zip(LOAD_COUNTS, map(int, row), strict=True))


def loaded_of(client: Client, database: str, sha256s: list[str]) -> set[str]:
    """Those of these files (by content hash) that are loaded."""
    if not sha256s:
        return set()
    rows = client.query(
        f"SELECT file_sha256 FROM `{database}`.event_loads "
        f"WHERE file_sha256 IN {{shas:Array(String)}}",
        parameters={"shas": sha256s},
    ).result_rows
    return {sha for (sha,) in rows}
