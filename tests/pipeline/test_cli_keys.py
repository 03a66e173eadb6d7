"""`billing keys`: a secret printed once and stored only as a hash; keys listed without
secrets; revoked keys let nothing in; keys bound only to customers of the catalog."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from billing_dagster.api.keys import KeyRefused, authenticate, find_key
from tests.catalogs import CONTRACT_EXAMPLE
from tests.support import cli, run

TODAY = datetime.now(UTC).date()


def test_keys_are_created_listed_and_revoked(database, client, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))

    code, out, err = cli(
        capsys, "keys", "create", "--scope", "ingest", "--customer", "acme", "--name", "edge"
    )
    created = json.loads(out)
    assert code == 0
    assert err == (
        f"billing: keep the secret of key {created['key_id']} now: it is stored only as a "
        f"hash and is never shown again\n"
    )
    secret = created.pop("secret")
    assert secret.startswith(f"bk_{created['key_id']}_") and len(secret) == 63
    assert (created["scope"], created["customer_id"], created["name"]) == ("ingest", "acme", "edge")

    stored = client.query(f"SELECT * FROM `{database}`.api_keys").result_rows
    assert secret[20:] not in repr(stored)  # never in clear
    key = find_key(client, database, created["key_id"])
    assert key.secret_sha256 == hashlib.sha256(secret[20:].encode()).hexdigest()
    assert authenticate(key, secret, TODAY) == key
    assert json.loads(run(capsys, "keys", "list")) == [created]

    revoked = json.loads(run(capsys, "keys", "revoke", created["key_id"]))
    assert revoked["revoked_at"] is not None
    assert json.loads(run(capsys, "keys", "revoke", created["key_id"])) == revoked  # no-op
    with pytest.raises(KeyRefused, match="was revoked"):
        authenticate(find_key(client, database, created["key_id"]), secret, TODAY)


def test_keys_refuse_unknown_customers_keys_and_days(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CONTRACT_EXAMPLE)
    run(capsys, "catalog", "apply", str(catalog))
    assert cli(capsys, "keys", "create", "--scope", "read", "--customer", "nobody") == (
        2,
        "",
        "billing: --customer 'nobody': no such customer in the catalog\n",
    )
    assert cli(capsys, "keys", "create", "--scope", "read", "--expires", "soon") == (
        2,
        "",
        "billing: --expires 'soon': expected a day as YYYY-MM-DD, e.g. 2026-10-15\n",
    )
    assert cli(capsys, "keys", "revoke", "0000000000000000") == (
        2,
        "",
        "billing: no API key '0000000000000000'; `billing keys list` shows them\n",
    )
    assert json.loads(run(capsys, "keys", "list")) == []
