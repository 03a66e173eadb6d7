"""The event API against a running `billing serve` and a real warehouse: receipts equal to
what the file loader does with the same lines, resends, conflicts, keys and bodies it
refuses, where an event is, and events acknowledged before a `kill -9` loaded once."""

from __future__ import annotations

import json
import signal

from tests.api_client import get, once_changed, post, post_announcing, serving
from tests.catalogs import CONTRACT_EXAMPLE
from tests.support import run

CATALOG = CONTRACT_EXAMPLE.replace(
    "credit_grants:",
    "  - id: globex\n    name: Globex\n    subscriptions: [{plan: pro, version: 1, start: "
    "2026-10-01}]\ncredit_grants:",
)
CALL = {"customer_id": "acme", "event_name": "api_request", "timestamp": "2026-10-05T12:00:00Z"}

#: Ten bad events, as sent, with the reason the loader gives each.
BAD = [
    ('{"event_id": "b0", "customer_id": "acme", "event_name": "api_request"}',
     'missing required field "timestamp"'),
    (json.dumps({**CALL, "event_id": "b1", "customer_id": "nobody"}),
     'unknown customer_id "nobody": not a customer in the catalog'),
    (json.dumps({**CALL, "event_id": "b2", "timestamp": "yesterday"}),
     'field "timestamp" is not an RFC 3339 timestamp with an offset or Z: "yesterday"'),
    (json.dumps({**CALL, "event_id": 3}), 'field "event_id" must be a string, got a number'),
    (json.dumps({**CALL, "event_id": "b4", "properties": {"x": [1]}}),
     'property "x" must be a string, number or bool, got array'),
    (json.dumps({**CALL, "event_id": "b5", "timestamp": "2019-12-31T23:59:59Z"}),
     'field "timestamp" is before 2020-01-01, the first metering day: "2019-12-31T23:59:59Z"'),
    (json.dumps({**CALL, "event_id": "b6", "void": "yes"}),
     'field "void" must be true or false, got a string'),
    (json.dumps({**CALL, "event_id": "b7", "event_name": ""}),
     'field "event_name" must not be empty'),
    (json.dumps({**CALL, "event_id": "b8", "replaces": "never-sent"}),
     'field "replaces" names event "never-sent" of customer "acme", which was not ingested '
     "before this event; send a correction after the event it corrects"),
    ("[1, 2]", "line is not a JSON object"),
]  # fmt: skip


def batch(texts: list[str]) -> bytes:
    return ('{"events": [' + ",\n ".join(texts) + "]}").encode()


def mixed_batch() -> tuple[bytes, dict[int, str]]:
    """990 good calls of acme and the 10 bad events at every 100th index."""
    texts, bad_at = [], {}
    good = (json.dumps({**CALL, "event_id": f"e{i}"}) for i in range(990))
    for index in range(1000):
        if index % 100 == 50:
            text, reason = BAD[index // 100]
            bad_at[index] = reason
            texts.append(text)
        else:
            texts.append(next(good))
    return batch(texts), bad_at


def usage(capsys, customer: str = "acme") -> list[str]:
    rows = json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
    return [row["quantity"] for row in rows if row["customer_id"] == customer]


def test_receipts_resends_conflicts_and_keys(client, database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    keys = {
        name: json.loads(run(capsys, "keys", "create", *arguments))
        for name, arguments in {
            "ingest": ("--scope", "ingest"),
            "read": ("--scope", "read"),
            "acme": ("--scope", "ingest", "--customer", "acme"),
            "acme_reader": ("--scope", "read", "--customer", "acme"),
        }.items()
    }
    secret = {name: key["secret"] for name, key in keys.items()}
    body, bad_at = mixed_batch()

    with serving(home) as (process, base):
        status, _, answer = post(f"{base}/v1/events/batch", secret["ingest"], body)
        assert status == 202
        assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (990, 0, 10)
        receipts = answer["receipts"]
        assert [r["index"] for r in receipts] == list(range(1000))
        assert {r["index"]: r["reason"] for r in receipts if r["status"] == "rejected"} == bad_at
        assert receipts[0] == {"index": 0, "event_id": "e0", "status": "accepted", "reason": None}
        assert [receipts[i]["event_id"] for i in (150, 350, 950)] == ["b1", None, None]

        status, _, again = post(f"{base}/v1/events/batch", secret["ingest"], body)
        assert (status, again["accepted"], again["duplicates"], again["rejected"]) == (
            202,
            0,
            990,
            10,
        )
        assert again["receipts"][0]["reason"] == (
            "already received (an earlier request); the first copy counts"
        )
        conflict = {**CALL, "event_id": "e0", "timestamp": "2026-10-06T12:00:00Z"}
        assert post(f"{base}/v1/events", secret["ingest"], conflict)[::2] == (
            202,
            {
                "index": 0,
                "event_id": "e0",
                "status": "duplicate",
                "reason": "conflict: already received (an earlier request) with different "
                "content; the first copy counts and this one is kept as a conflict",
            },
        )
        within = batch([json.dumps({**CALL, "event_id": "n1"})] * 2)
        assert [
            r["reason"]
            for r in post(f"{base}/v1/events/batch", secret["acme"], within)[2]["receipts"]
        ] == [None, "already received (event 0 of this request); the first copy counts"]
        assert get(f"{base}/v1/events/n1?customer_id=acme", secret["read"])[2]["status"] == (
            "received"
        )

        # Keys: scope, customer binding, revocation.
        globex = json.dumps({**CALL, "customer_id": "globex", "event_id": "g1"}).encode()
        assert post(f"{base}/v1/events", secret["read"], globex)[::2] == (
            403,
            {"detail": f"API key {keys['read']['key_id']} has scope read, not ingest"},
        )
        assert post(f"{base}/v1/events", secret["acme"], globex)[::2] == (
            403,
            {"detail": 'this key sends events of customer "acme" only; event 0 is of customer '
             '"globex"'},
        )  # fmt: skip
        assert get(f"{base}/v1/events/e0?customer_id=globex", secret["acme_reader"])[0] == 403
        run(capsys, "keys", "revoke", keys["ingest"]["key_id"])
        once_changed(lambda: get(f"{base}/v1/me", secret["ingest"]), lambda a: a[0] == 401)
        assert post(f"{base}/v1/events", secret["ingest"], globex)[::2] == (
            401,
            {"detail": f"API key {keys['ingest']['key_id']} was revoked"},
        )

        # Bodies that are not events.
        events = f"{base}/v1/events/batch"
        assert post(events, secret["acme"], b'{"events": [{"event_id": "x",}]}')[::2] == (
            400,
            {"detail": "malformed JSON at line 1, column 30: Expecting property name enclosed "
             "in double quotes"},
        )  # fmt: skip
        assert post(events, secret["acme"], body, content_type="text/plain")[::2] == (
            400,
            {"detail": 'content type is "text/plain"; send the events as application/json'},
        )
        assert post(events, secret["acme"], b"  ")[::2] == (
            400,
            {"detail": "the body is empty; send the events as JSON"},
        )
        assert post(events, secret["acme"], b'{"events": []}')[::2] == (
            400,
            {"detail": 'the batch has no events; send {"events": [event, ...]}'},
        )
        too_many = batch([json.dumps({**CALL, "event_id": f"m{i}"}) for i in range(1001)])
        assert post(events, secret["acme"], too_many)[::2] == (
            413,
            {"detail": "the batch has more than 1000 events, the limit of one request; split it"},
        )
        assert post_announcing(events, secret["acme"], 5 * 2**20 + 1) == (
            413,
            {"detail": "the body is over 5242880 bytes (5 MiB), the limit of one request; send "
             "at most 1000 events per batch and split larger ones"},
        )  # fmt: skip
        assert post(f"{base}/v1/events", secret["acme"], b'{"event_id": "o"} {}')[::2] == (
            400,
            {"detail": "malformed JSON at line 1, column 19: extra data after the event"},
        )
        status, _, rejected = post(f"{base}/v1/events", secret["acme"], BAD[2][0].encode())
        assert (status, rejected["reason"]) == (422, BAD[2][1])
        assert get(f"{base}/v1/events/nope?customer_id=acme", secret["read"])[::2] == (
            404,
            {"detail": 'no event "nope" of customer "acme" was received'},
        )
    assert secret["ingest"] not in process.stderr.read()

    # The file loader gives the same reasons for the same lines.
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text("".join(text + "\n" for text, _ in BAD))
    run(capsys, "ingest", str(bad_file))
    run(capsys, "ingest")  # what the API stored: the sealed segments
    quarantine = client.query(
        f"SELECT reason FROM `{database}`.quarantined_events WHERE file_name = 'bad.jsonl' ORDER BY line_no"
    ).result_rows
    assert [reason for (reason,) in quarantine] == [reason for _, reason in BAD]
    assert usage(capsys) == ["991"]  # e0..e989 and n1, each once
    assert usage(capsys, "globex") == []
    with serving(home) as (_, base):
        where = get(f"{base}/v1/events/e0?customer_id=acme", secret["read"])
        assert where[0] == 200
        assert (where[2]["status"], where[2]["metrics"]) == ("loaded", ["api_calls"])
        assert (len(where[2]["duplicates"]), len(where[2]["conflicts"])) == (1, 1)
        assert (
            get(f"{base}/v1/events/b1?customer_id=nobody", secret["read"])[2]["quarantined"][0][
                "reason"
            ]
            == BAD[1][1]
        )


def test_events_acknowledged_before_kill_9_load_exactly_once(database, home, tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    secret = json.loads(run(capsys, "keys", "create", "--scope", "ingest"))["secret"]
    sent = 0
    with serving(home, "--seal-after", "3600") as (process, base):
        for round_ in range(3):
            texts = [json.dumps({**CALL, "event_id": f"k{round_}-{i}"}) for i in range(500)]
            assert post(f"{base}/v1/events/batch", secret, batch(texts))[2]["accepted"] == 500
            sent += 500
        process.send_signal(signal.SIGKILL)  # the segment is open: never sealed
    # A killed writer can leave a partial last line; it was never acknowledged.
    (segment,) = (home / "landing" / "api" / "open").glob("*.jsonl")
    with open(segment, "a") as partial:
        partial.write('{"event_id": "half", "customer_id": "ac')
    with serving(home) as _:  # start-up seals what the killed server left
        pass
    assert json.loads(run(capsys, "ingest")) == {
        "accepted": sent,
        "duplicates": 0,
        "quarantined": 0,
    }
    assert usage(capsys) == [str(sent)]
