"""Erasing a customer's personal event properties in the landing zone's files. A file keeps
its name (the hash of the bytes first landed, which the load ledger knows it by), so the
same file sent again is still recognised as loaded and never lands its values again."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from billing_dagster.erasure.pseudonyms import erase_line
from billing_dagster.ingest.landing import every_landed_file


def erase_landed_files(home: Path, customer_id: str, pii: tuple[str, ...], key: bytes) -> int:
    """Rewrite every landed file holding the customer's lines; returns the files changed.
    Each is replaced whole and at once (written aside, then renamed over it)."""
    return sum(
        _erase_file(landed.path, customer_id, pii, key) for landed in every_landed_file(home)
    )


def _erase_file(path: Path, customer_id: str, pii: tuple[str, ...], key: bytes) -> bool:
    opener = gzip.open if path.name.endswith(".gz") else open
    # A leading dot keeps the copy out of the landing zone's listing until it is complete.
    aside = path.with_name(f".{path.name}.erasing")
    changed = False
    with opener(path, "rb") as reader, opener(aside, "wb") as writer:
        for raw in reader:
            line = raw.decode("utf-8", "surrogateescape")
            erased = erase_line(line, customer_id, pii, key)
            changed = changed or erased != line
            writer.write(erased.encode("utf-8", "surrogateescape"))
    if not changed:
        aside.unlink()
        return False
    os.chmod(aside, path.stat().st_mode & 0o777)
    with open(aside, "rb") as written:
        os.fsync(written.fileno())
    os.replace(aside, path)
    return True
