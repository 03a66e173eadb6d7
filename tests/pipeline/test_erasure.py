"""`billing erase` end to end: after erasing a customer, its personal values and its name are
nowhere (warehouse tables, landing zone, Dagster's storage, the gateway's copy), its
invoices re-bill byte for byte, its unique counts are unchanged, a backfill changes
nothing, the catalog cannot bring its name back, and a second erasure changes nothing."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from billing_dagster.erasure import erase
from billing_dagster.erasure.pseudonyms import erasure_key, pseudonym
from billing_dagster.erasure.tombstones import TOMBSTONE
from billing_dagster.gateways.config import Gateways
from billing_dagster.gateways.file_gateway import FileGateway
from tests.support import cli, run

CATALOG = """\
pii_properties: [user_email, ip]
metrics:
  - {code: users, event_name: api_request, aggregation: count_unique, property: user_email}
  - {code: calls, event_name: api_request, aggregation: count}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        fixed_fees: [{code: platform, amount: "10.00"}]
        charges:
          - {metric: users, model: per_unit, unit_price: "2.00"}
          - {metric: calls, model: per_unit, unit_price: "0.10"}
customers:
  - id: acme
    name: 'Ada O''Hara "Consulting"'   # a person's name, as sole traders have
    subscriptions: [{plan: pro, start: 2026-01-01}]
  - id: globex
    name: Globex
    subscriptions: [{plan: pro, start: 2026-01-01}]
"""

#: Acme's people, with quotes, a backslash and a separator in their values.
ADA = "ada.o'hara@example.com"
BOB = 'bob "the builder"\\ops@example.com'
CAROL = "carol,tab\tx@example.com"
SHARED = "shared@example.com"  # also Globex's: Globex keeps it as it is
IP = "203.0.113.7"
ZED = "zed@example.com"  # only in lines that are quarantined
NAME = 'Ada O\'Hara "Consulting"'


def event(n: int, customer: str, day: str, email: str, **extra) -> str:
    properties = {"user_email": email, "ip": IP} | extra
    return json.dumps(
        {
            "event_id": f"e{n}",
            "customer_id": customer,
            "event_name": "api_request",
            "timestamp": f"{day}T12:00:00Z",
            "properties": properties,
        }
    )


def first_file() -> str:
    lines = [
        event(1, "acme", "2026-10-03", ADA),
        event(2, "acme", "2026-10-04", ADA),
        event(3, "acme", "2026-10-20", BOB),
        event(4, "acme", "2026-10-21", SHARED),
        event(5, "acme", "2026-11-02", ADA),
        event(6, "acme", "2026-11-05", CAROL),
        event(7, "acme", "2026-11-06", BOB),
        event(8, "globex", "2026-10-03", SHARED, ip="198.51.100.9"),
        event(9, "globex", "2026-11-03", SHARED, ip="198.51.100.9"),
        # quarantined: a bad timestamp, and a line that is not JSON
        event(10, "acme", "2026-13-40", ZED),
        '{"customer_id": "acme", "properties": {"user_email": "' + ZED + '"',
    ]
    return "\n".join(lines) + "\n"


def second_file() -> str:
    """A later copy of event 1 (a duplicate) and a new event, gzipped."""
    return event(1, "acme", "2026-10-03", ADA) + "\n" + event(11, "acme", "2026-11-07", ADA) + "\n"


def found_in_warehouse(client, database: str, values: list[str]) -> list[str]:
    """The tables of the database whose rows, as written by the engine, hold a value."""
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree'",
        parameters={"db": database},
    ).result_rows
    found = []
    for (table,) in tables:
        rows = client.raw_query(f"SELECT * FROM `{database}`.`{table}` FORMAT JSONEachRow")
        text = rows.decode("utf-8", "replace")  # binary hashes and states among the text
        found += [f"{table}: {v}" for v in values if any(form in text for form in forms(v))]
    return found


def found_in_files(root: Path, values: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or "warehouse" in path.relative_to(root).parts:
            continue  # the warehouse's files are searched through SQL
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        text = data.decode("utf-8", "replace")
        found += [f"{path}: {v}" for v in values if any(form in text for form in forms(v))]
    return found


def forms(value: str) -> set[str]:
    """The value as written raw, in JSON, and in SQL or YAML quoting."""
    return {value, json.dumps(value)[1:-1], value.replace("'", "''"), value.replace("'", "\\'")}


def usage(capsys, period: str) -> list[dict]:
    return json.loads(run(capsys, "usage", "--period", period, "--format", "json"))


def invoices(capsys, period: str) -> str:
    return run(capsys, "invoices", "--period", period, "--format", "json")


def test_an_erased_customer_is_nowhere_and_its_invoices_rebill_byte_for_byte(
    client, database, home, tmp_path, capsys
):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    (tmp_path / "first.jsonl").write_text(first_file())
    (tmp_path / "second.jsonl.gz").write_bytes(gzip.compress(second_file().encode()))
    loaded = json.loads(run(capsys, "ingest", str(tmp_path / "first.jsonl")))
    assert loaded == {"accepted": 9, "duplicates": 0, "quarantined": 2}
    loaded = json.loads(run(capsys, "ingest", str(tmp_path / "second.jsonl.gz")))
    assert loaded == {"accepted": 1, "duplicates": 1, "quarantined": 0}
    run(capsys, "bill", "--period", "2026-10")
    run(capsys, "finalize", "--period", "2026-10")
    run(capsys, "sync", "--period", "2026-10")
    run(capsys, "bill", "--period", "2026-11")
    before = {p: (usage(capsys, p), invoices(capsys, p)) for p in ("2026-10", "2026-11")}
    acme_users = {
        (u["period"], u["quantity"])
        for p in ("2026-10", "2026-11")
        for u in before[p][0]
        if u["customer_id"] == "acme" and u["metric"] == "users"
    }
    assert acme_users == {("2026-10", "3"), ("2026-11", "3")}
    personal = [ADA, BOB, CAROL, IP, ZED, NAME]
    # The searches find what is there.
    assert found_in_warehouse(client, database, [ADA, ZED]) == [
        f"quarantined_events: {ZED}",
        f"raw_events: {ADA}",
    ]
    assert len(found_in_files(home, [BOB])) == 1  # the first landed file

    erased = json.loads(
        run(capsys, "erase", "--customer", "acme", "--reason", "GDPR request #7 (by email)")
    )
    assert {k: erased[k] for k in ("customer_id", "events", "quarantined_lines")} == {
        "customer_id": "acme",
        "events": 8,
        "quarantined_lines": 2,
    }
    assert (erased["landing_files"], erased["catalog_versions"]) == (2, 1)
    assert erased["gateways"] == {"file": "name redacted"}
    assert erased["pii_properties"] == ["user_email", "ip"]

    assert found_in_warehouse(client, database, personal) == []
    # The warehouse's hash (SQL) and the raw lines' (Python) are the same function.
    key = erasure_key(home)
    stored = client.query(
        f"SELECT properties['user_email'] FROM `{database}`.raw_events WHERE event_id = 'e3'"
    ).result_rows
    assert stored == [(pseudonym(key, BOB),)]
    quarantined = client.query(
        f"SELECT raw_line FROM `{database}`.quarantined_events ORDER BY line_no"
    ).result_rows
    assert [pseudonym(key, ZED) in line for (line,) in quarantined] == [True, True]
    assert oct(((home / "erasure" / "hmac.key").stat().st_mode) & 0o777) == "0o600"
    assert found_in_files(home, personal) == []
    # Globex's copy of the shared address is its own: not erased.
    assert found_in_warehouse(client, database, [SHARED]) == [f"raw_events: {SHARED}"]
    after = {p: (usage(capsys, p), invoices(capsys, p)) for p in ("2026-10", "2026-11")}
    assert after == before
    run(capsys, "bill", "--period", "2026-11")
    assert invoices(capsys, "2026-11") == before["2026-11"][1]

    backfilled = json.loads(run(capsys, "backfill", "--from", "2026-10-01", "--to", "2026-11-30"))
    assert backfilled["billed"] == ["2026-11"]
    assert {p: (usage(capsys, p), invoices(capsys, p)) for p in before} == before
    notes = json.loads(run(capsys, "credit-notes", "--period", "2026-11", "--format", "json"))
    assert notes == []

    code, _, err = cli(capsys, "catalog", "apply", str(catalog))
    assert (code, err.strip()) == (
        2,
        f"billing: {catalog}: customer 'acme' was erased (`billing erase`): its name cannot be "
        f'restored; write `name: "{TOMBSTONE}"` for it in the catalog',
    )
    tombstoned = tmp_path / "tombstoned.yaml"
    tombstoned.write_text(CATALOG.replace("""'Ada O''Hara "Consulting"'""", '"[erased]"'))
    assert json.loads(run(capsys, "catalog", "apply", str(tombstoned)))["changed"] is False

    again = json.loads(run(capsys, "erase", "--customer", "acme", "--reason", "asked again"))
    counts = ("events", "quarantined_lines", "landing_files", "catalog_versions")
    assert [again[k] for k in counts] == [0, 0, 0, 0]
    assert client.command(f"SELECT count() FROM `{database}`.erasures") == 2
    assert {p: (usage(capsys, p), invoices(capsys, p)) for p in before} == before


class Killed(Exception):
    """The process died here."""


STEPS = ("erase_events", "erase_quarantined_lines", "erase_landed_files",
         "tombstone_catalog_versions", "_erase_at_gateways")  # fmt: skip


def test_an_erasure_killed_after_any_step_is_finished_by_the_next(
    client, database, home, tmp_path, capsys, monkeypatch
):
    """Killed after each step in turn (its work done, nothing after it), then run again: the
    result is the clean run's, with one audit row: the run that finished."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    gateways = Gateways.only(FileGateway(tmp_path / "gateway"))
    run(capsys, "catalog", "apply", str(catalog))
    (tmp_path / "first.jsonl").write_text(first_file())
    run(capsys, "ingest", str(tmp_path / "first.jsonl"))
    tables = ("raw_events", "quarantined_events", "catalog_versions", "catalog_customers")
    for table in tables:
        client.command(f"CREATE TABLE `{database}`.`{table}_before` AS `{database}`.`{table}`")
        client.command(
            f"INSERT INTO `{database}`.`{table}_before` SELECT * FROM `{database}`.`{table}`"
        )
    shutil.copytree(home / "landing", tmp_path / "landing_before")
    outcomes = []
    for step in (None, *STEPS):
        for table in tables:  # back to the state before any erasure
            client.command(f"TRUNCATE TABLE `{database}`.`{table}`")
            client.command(
                f"INSERT INTO `{database}`.`{table}` SELECT * FROM `{database}`.`{table}_before`"
            )
        client.command(f"TRUNCATE TABLE `{database}`.erasures")
        shutil.rmtree(home / "landing")
        shutil.copytree(tmp_path / "landing_before", home / "landing")
        if step is not None:
            real = getattr(erase, step)

            def dying(*args, real=real):
                real(*args)
                raise Killed

            with monkeypatch.context() as patched:
                patched.setattr(erase, step, dying)
                with pytest.raises(Killed):
                    erase.erase_customer(client, database, home, "acme", "r", gateways)
            assert client.command(f"SELECT count() FROM `{database}`.erasures") == 0
        erase.erase_customer(client, database, home, "acme", "r", gateways)
        erased = found_in_warehouse(client, database, [ADA, BOB, CAROL, IP, ZED, NAME])
        assert [place for place in erased if "_before" not in place] == []
        assert found_in_files(home, [ADA, BOB, CAROL, IP, ZED, NAME]) == []
        outcomes.append(
            client.query(
                f"SELECT event_id, properties, content_hash FROM `{database}`.raw_events "
                f"ORDER BY event_id"
            ).result_rows
        )
        assert client.command(f"SELECT count() FROM `{database}`.erasures") == 1
    assert all(outcome == outcomes[0] for outcome in outcomes)
