"""`billing serve` over real HTTP: the health route, keys that let in exactly what they
should (401 and 403 with their reasons), usage equal to `billing usage`, and the OpenAPI
schema. The server is a process of its own on the test's home and database."""

from __future__ import annotations

import json

import psutil

from tests.api_client import get, once_changed, serving
from tests.catalogs import CONTRACT_EXAMPLE, contract_example_events
from tests.support import run

UNKNOWN = "unknown API key; send `Authorization: Bearer bk_...`"


def key(capsys, *args: str) -> dict:
    return json.loads(run(capsys, "keys", "create", *args))


def test_the_api_lets_in_exactly_its_keys_and_answers_like_the_cli(
    database, home, tmp_path, capsys
):
    catalog, events = tmp_path / "catalog.yaml", tmp_path / "events.jsonl"
    catalog.write_text(CONTRACT_EXAMPLE)
    events.write_text(contract_example_events())
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(events))
    expected = [
        row
        for row in json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
        if row["customer_id"] == "acme"
    ]
    reader, writer = key(capsys, "--scope", "read"), key(capsys, "--scope", "ingest")
    acme_only = key(capsys, "--scope", "read", "--customer", "acme")

    with serving(home) as (process, base):
        [address] = {c.laddr.ip for c in psutil.Process(process.pid).net_connections()}
        assert address == "127.0.0.1"  # loopback unless told otherwise
        assert get(f"{base}/v1/health")[::2] == (200, {"status": "ok"})
        usage = f"{base}/v1/customers/acme/usage?period=2026-10"

        status, headers, body = get(f"{base}/v1/me")
        assert (status, headers.get("www-authenticate"), body) == (
            401,
            "Bearer",
            {"detail": UNKNOWN},
        ), headers
        assert get(usage, reader["secret"][:-1] + "x")[::2] == (401, {"detail": UNKNOWN})
        assert get(f"{base}/v1/me", reader["secret"])[::2] == (
            200,
            {k: v for k, v in reader.items() if k != "secret"},
        )
        assert get(usage, reader["secret"])[::2] == (200, expected)
        assert [row["quantity"] for row in expected] == ["12", "120000"]
        assert get(usage, acme_only["secret"])[::2] == (200, expected)
        assert get(usage, writer["secret"])[::2] == (
            403,
            {"detail": f"API key {writer['key_id']} has scope ingest, not read"},
        )
        other = f"{base}/v1/customers/globex/usage?period=2026-10"
        assert get(other, acme_only["secret"])[::2] == (
            403,
            {"detail": f"API key {acme_only['key_id']} is bound to customer 'acme'"},
        )
        assert get(f"{base}/v1/customers/acme/usage?period=2026-13", reader["secret"])[0] == 422

        run(capsys, "keys", "revoke", reader["key_id"])  # within a second or so
        refused = once_changed(lambda: get(usage, reader["secret"]), lambda a: a[0] != 200)
        assert refused[::2] == (401, {"detail": f"API key {reader['key_id']} was revoked"})

        limited = key(capsys, "--scope", "read", "--rate-limit", "1")
        burst = [get(f"{base}/v1/me", limited["secret"]) for _ in range(20)]
        assert burst[0][0] == 200
        over = next(answer for answer in burst if answer[0] != 200)
        assert (over[0], over[1]["retry-after"], over[2]) == (
            429,
            "1",
            {"detail": f"API key {limited['key_id']} is over its rate limit of 1 requests per "
             "second; retry in 1 s"},
        )  # fmt: skip
        schema = get(f"{base}/openapi.json")[2]
        assert sorted(schema["paths"]) == [
            "/v1/customers/{customer_id}/entitlements",
            "/v1/customers/{customer_id}/entitlements/{feature}",
            "/v1/customers/{customer_id}/entitlements/{feature}/consume",
            "/v1/customers/{customer_id}/portal_sessions",
            "/v1/customers/{customer_id}/usage",
            "/v1/events",
            "/v1/events/batch",
            "/v1/events/{event_id}",
            "/v1/health",
            "/v1/me",
            "/v1/portal/amounts",
            "/v1/portal/credits",
            "/v1/portal/entitlements",
            "/v1/portal/invoices",
            "/v1/portal/invoices/{invoice_id}",
            "/v1/portal/projection",
            "/v1/portal/session",
            "/v1/portal/usage",
            "/v1/reports/{name}",
        ]
    assert reader["secret"] not in process.stderr.read()  # secrets are never logged
