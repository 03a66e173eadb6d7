"""Loading a landing day: the files landed that day and not yet in the load ledger, in
landing order, one load each. Loading the day again loads nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from clickhouse_connect.driver.client import Client

from billing_dagster.ingest import landing
from billing_dagster.ingest.ledger import loaded_of
from billing_dagster.ingest.loader import EventLoader
from billing_dagster.locks import EVENT_LOADS, home_lock


@dataclass
class DayLoad:
    """What loading a day did, summed over its files."""

    files: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    event_dates: set[date] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {
            "files": self.files,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "quarantined": self.quarantined,
        }


def load_landing_day(
    loader: EventLoader,
    home: Path,
    day: date,
    catalog_version: int,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> DayLoad:
    """Load the day's pending files under the home's load lock, after removing what a load
    killed before its commit left behind; `say` reports each file, `warn` what was removed."""
    done = DayLoad()
    with home_lock(home, EVENT_LOADS):
        discarded = loader.discard_unfinished_loads()
        if discarded:
            warn(f"removed rows of unfinished loads {discarded}")
        landed_files = landing.landed_files(home, day)
        pending = [f for f in landed_files if not loader.already_loaded(f.sha256)]
        for number, landed in enumerate(pending, start=1):
            result = loader.load(
                landed.path, landed.sha256, landed.original_name, day, catalog_version
            )
            say(
                f"[{number}/{len(pending)}] {landed.original_name}: {result.accepted} accepted, "
                f"{result.duplicates} duplicates ({result.conflicts} conflicting), "
                f"{result.quarantined} quarantined"
            )
            done.files += 1
            done.accepted += result.accepted
            done.duplicates += result.duplicates
            done.conflicts += result.conflicts
            done.quarantined += result.quarantined
            done.event_dates.update(result.event_dates)
    return done


def waiting_files(
    home: Path, client: Client, database: str
) -> dict[date, list[landing.LandedFile]]:
    """Landed files not loaded yet (the API's segments, files an interrupted command left),
    by landing day."""
    landed = landing.every_landed_file(home)
    loaded = loaded_of(client, database, [file.sha256 for file in landed])
    waiting: dict[date, list[landing.LandedFile]] = {}
    for file in landed:
        if file.sha256 not in loaded:
            waiting.setdefault(file.landing_date, []).append(file)
    return waiting
