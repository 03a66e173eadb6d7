"""Entitlement checks against a running `billing serve`: every kind of feature with its
exact answer, live usage above the exact figure until metering and equal to `billing
usage` after it, the CLI answering alike, and `consume` never overshooting a hard limit
under 8 concurrent clients (`CONSUME_RUNS` runs; more by hand, see docs/benchmarks.md),
and randomized catalogs and events (`ENTITLEMENT_SEED`). Servers that meter while they run
seal each request's segment at once (`--seal-after 0`), so `billing ingest` loads all they
received."""

from __future__ import annotations

import functools
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.api_client import get, once_changed, post, serving
from tests.support import run

NOW = datetime.now(UTC).replace(microsecond=0)
MONTH_START = NOW.date().replace(day=1)
MONTH_END = (MONTH_START + timedelta(days=32)).replace(day=1) - timedelta(days=1)
PERIOD = MONTH_START.strftime("%Y-%m")
CUSTOMERS_WITH_LIMITS = int(os.environ.get("CONSUME_RUNS", "1"))

CATALOG = f"""\
metrics:
  - {{code: api_calls, event_name: api_request, aggregation: count}}
  - {{code: tokens, event_name: completion, aggregation: sum, property: tokens}}
  - {{code: seats, event_name: seat, aggregation: count_unique, property: user}}
plans:
  - code: pro
    name: Pro
    versions:
      - version: 1
        effective_from: 2026-01-01
        currency: USD
        charges:
          - {{metric: api_calls, model: per_unit, unit_price: "0.001"}}
          - {{metric: tokens, model: per_unit, unit_price: "0.00001"}}
        entitlements:
          - {{feature: api_calls, limit: 10, enforcement: hard}}
          - {{feature: tokens, limit: "1000.5", enforcement: soft}}
          - {{feature: daily_calls, metric: api_calls, limit: 5, enforcement: hard, period: day}}
          - {{feature: seats, limit: null}}
          - {{feature: sso, enabled: true}}
          - {{feature: audit_log, enabled: false}}
          - {{feature: branding, config: {{theme: 'dark "night" \\ blue'}}}}
customers:
  - id: acme
    name: Acme
    subscriptions: [{{plan: pro, start: 2026-01-01}}]
  - id: gone
    name: Gone
    subscriptions: [{{plan: pro, start: 2026-01-01, end: 2026-02-01}}]
{
    "".join(
        f'''  - id: c{i}
    name: Limited {i}
    subscriptions:
      - plan: pro
        start: 2026-01-01
        overrides: {{entitlements: [{{feature: api_calls, limit: 1000, enforcement: hard}}]}}
'''
        for i in range(CUSTOMERS_WITH_LIMITS)
    )
}quota_grants:
  - {{id: q1, customer: acme, feature: api_calls, units: 5, effective: {MONTH_START},
      expires: {MONTH_END}}}
"""


def event(event_id: str, customer: str = "acme", name: str = "api_request", **properties):
    return {
        "event_id": event_id,
        "customer_id": customer,
        "event_name": name,
        "timestamp": NOW.isoformat().replace("+00:00", "Z"),
        "properties": properties,
    }


def batch(events: list[dict]) -> bytes:
    return json.dumps({"events": events}).encode()


def by_feature(answers: list[dict]) -> dict[str, dict]:
    return {answer["feature"]: answer for answer in answers}


def fields(answer: dict, *names: str) -> tuple:
    return tuple(answer[name] for name in names)


def setup(capsys, tmp_path) -> dict[str, str]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    run(capsys, "catalog", "apply", str(catalog))
    return {
        scope: json.loads(run(capsys, "keys", "create", "--scope", scope))["secret"]
        for scope in ("check", "ingest", "read")
    }


def test_every_kind_of_feature_live_then_exact(database, home, tmp_path, capsys):
    keys = setup(capsys, tmp_path)
    events = [event(f"call-{i}") for i in range(12)]
    events += [event(f"tok-{i}", name="completion", tokens="400.25") for i in range(3)]
    events += [event(f"seat-{i}", name="seat", user=user) for i, user in enumerate("aba")]
    usage_fields = ("has_access", "reason", "limit", "usage", "remaining", "overage")

    with serving(home, "--seal-after", "0") as (_, base):
        acme = f"{base}/v1/customers/acme/entitlements"
        status, _, before = get(acme, keys["check"])
        assert status == 200
        assert fields(by_feature(before)["api_calls"], *usage_fields) == (
            True, "ok", "15", "0", "15", "0",
        )  # fmt: skip
        assert post(f"{base}/v1/events/batch", keys["ingest"], batch(events))[2]["accepted"] == 18
        live = by_feature(get(acme, keys["check"])[2])
        assert fields(live["api_calls"], *usage_fields) == (True, "ok", "15", "12", "3", "0")
        assert live["api_calls"]["grants"] == [{"id": "q1", "units": "5", "burnt": "2"}]
        assert fields(live["daily_calls"], *usage_fields) == (
            False, "limit_reached", "5", "12", "0", "8",
        )  # fmt: skip
        assert fields(live["tokens"], *usage_fields) == (
            True, "limit_reached", "1000.5", "1200.75", "0", "201.25",
        )  # fmt: skip
        assert fields(live["seats"], *usage_fields) == (True, "ok", None, "2", None, "0")
        assert fields(live["sso"], "kind", "has_access", "reason") == ("boolean", True, "ok")
        assert fields(live["audit_log"], "has_access", "reason") == (False, "not_in_plan")
        assert live["branding"]["config"] == {"theme": 'dark "night" \\ blue'}
        assert (live["api_calls"]["period_start"], live["daily_calls"]["period_end"]) == (
            f"{MONTH_START}T00:00:00+00:00",
            f"{NOW.date() + timedelta(days=1)}T00:00:00+00:00",
        )
        four_more = get(f"{acme}/api_calls?requested=4", keys["check"])[2]
        assert fields(four_more, *usage_fields) == (
            False, "limit_reached", "15", "12", "3", "1",
        )  # fmt: skip
        assert get(f"{acme}/api_calls?requested=-1", keys["check"])[0] == 422
        assert fields(get(f"{acme}/nothing", keys["check"])[2], "has_access", "reason") == (
            False,
            "not_in_plan",
        )
        consume = f"{acme}/api_calls/consume"
        once = json.dumps(event("call-12")).encode()
        first, again = post(consume, keys["check"], once), post(consume, keys["check"], once)
        assert (first[0], first[2]["receipt"]["status"], first[2]["entitlement"]["usage"]) == (
            202,
            "accepted",
            "12",
        )  # the answer the event was let in on
        assert (again[0], again[2]["receipt"]["status"], again[2]["entitlement"]["usage"]) == (
            202,
            "duplicate",
            "13",
        )
        gone = get(f"{base}/v1/customers/gone/entitlements/api_calls", keys["check"])[2]
        assert fields(gone, "has_access", "reason") == (False, "no_subscription")
        assert get(acme, keys["ingest"])[0] == 403

        exact = by_feature(json.loads(run(capsys, "entitlements", "--customer", "acme",
                                          "--format", "json")))  # fmt: skip
        assert [exact[f]["usage"] for f in ("api_calls", "tokens", "seats")] == ["0", "0", "0"]

        run(capsys, "ingest")  # loads the sealed segment and meters it
        exact = by_feature(json.loads(run(capsys, "entitlements", "--customer", "acme",
                                          "--format", "json")))  # fmt: skip
        metered = {
            row["metric"]: row["quantity"]
            for row in json.loads(run(capsys, "usage", "--period", PERIOD, "--format", "json"))
            if row["customer_id"] == "acme"
        }
        assert metered == {"api_calls": "13", "tokens": "1200.75", "seats": "2"}
        assert {f: exact[f]["usage"] for f in ("api_calls", "tokens", "seats")} == metered
        through = exact["api_calls"]["exact_through"]
        after = by_feature(
            once_changed(
                lambda: get(acme, keys["check"])[2],
                lambda answers: by_feature(answers)["api_calls"]["exact_through"] == through,
            )
        )
        for answers in (after, exact):
            for answer in answers.values():
                del answer["as_of"]
        assert after == exact


def consume_until_refused(url: str, key: str, customer: str, number: int) -> list[int]:
    """One client: consume new events until refused; the statuses it got."""
    statuses = []
    for i in range(10_000):
        status, _, answer = post(url, key, json.dumps(event(f"{number}-{i}", customer)).encode())
        statuses.append(status)
        if not answer["entitlement"]["has_access"]:
            return statuses
    raise AssertionError("never refused")


def test_consume_never_overshoots_a_hard_limit(database, home, tmp_path, capsys):
    keys = setup(capsys, tmp_path)
    with serving(home) as (_, base):  # its segments are sealed when it stops
        for run_number in range(CUSTOMERS_WITH_LIMITS):
            customer = f"c{run_number}"
            consume = f"{base}/v1/customers/{customer}/entitlements/api_calls/consume"
            client = functools.partial(consume_until_refused, consume, keys["check"], customer)
            with ThreadPoolExecutor(8) as pool:
                statuses = [s for result in pool.map(client, range(8)) for s in result]
            assert (statuses.count(202), statuses.count(200), len(statuses)) == (1000, 8, 1008)
            answer = get(consume.removesuffix("/consume"), keys["check"])[2]
            assert fields(answer, "usage", "remaining", "has_access") == ("1000", "0", False)
        # A resent event is a duplicate, even at the limit, and counts once.
        resent = json.dumps(event("0-0", customer)).encode()
        status, _, again = post(consume, keys["check"], resent)
        assert (status, again["receipt"]["status"], again["entitlement"]["usage"]) == (
            202,
            "duplicate",
            "1000",
        )
    run(capsys, "ingest")
    usage = {
        row["customer_id"]: row["quantity"]
        for row in json.loads(run(capsys, "usage", "--period", PERIOD, "--format", "json"))
    }
    assert usage == {f"c{i}": "1000" for i in range(CUSTOMERS_WITH_LIMITS)}


AGGREGATIONS = {"count": None, "sum": "value", "max": "value", "count_unique": "user"}


def random_catalog(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """Metrics of every aggregation but latest (whose live figure can lag: docs/api.md),
    each a feature with a random limit, enforcement and period; and the features."""
    metrics, features = [], []
    for number, (aggregation, prop) in enumerate(AGGREGATIONS.items()):
        code = f"m{number}"
        read = f", property: {prop}" if prop else ""
        metrics.append(f"  - {{code: {code}, event_name: e{number}, aggregation: {aggregation}"
                       f"{read}}}")  # fmt: skip
        limit = rng.choice(["null", '"5"', '"20.5"', '"1000"'])
        enforcement = rng.choice(["soft", "hard"])
        period = rng.choice(["billing_period", "day"])
        features.append(
            f"          - {{feature: f{number}, metric: {code}, limit: {limit}, "
            f"enforcement: {enforcement}, period: {period}}}"
        )
    catalog = "\n".join(
        ["metrics:", *metrics, "plans:", "  - code: p", "    name: P", "    versions:",
         "      - version: 1", "        effective_from: 2026-01-01", "        currency: USD",
         "        entitlements:", *features, "customers:",
         "  - {id: r1, name: R1, subscriptions: [{plan: p, start: 2026-01-01}]}",
         "  - {id: r2, name: R2, subscriptions: [{plan: p, start: 2026-01-01}]}"]
    )  # fmt: skip
    return catalog + "\n", [(f"f{n}", f"m{n}") for n in range(len(AGGREGATIONS))]


def random_events(rng: random.Random, count: int) -> list[dict]:
    events = []
    for number in range(count):
        kind = rng.randrange(len(AGGREGATIONS))
        properties = {"value": f"{rng.randint(0, 500)}.{rng.randint(0, 99):02d}",
                      "user": f"u{rng.randint(1, 6)}"}  # fmt: skip
        events.append(event(f"x{number}", rng.choice(["r1", "r2"]), f"e{kind}", **properties))
    return events


def test_randomized_live_usage_is_never_below_exact_and_equals_it_after_metering(
    database, home, tmp_path, capsys
):
    rng = random.Random(int(os.environ.get("ENTITLEMENT_SEED", "16")))
    text, features = random_catalog(rng)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(text)
    run(capsys, "catalog", "apply", str(catalog))
    keys = {scope: json.loads(run(capsys, "keys", "create", "--scope", scope))["secret"]
            for scope in ("check", "ingest")}  # fmt: skip
    events = random_events(rng, 60)

    def exact(customer: str) -> dict[str, dict]:
        return by_feature(json.loads(run(capsys, "entitlements", "--customer", customer,
                                         "--format", "json")))  # fmt: skip

    with serving(home, "--seal-after", "0") as (_, base):
        for start in range(0, len(events), 20):
            post(f"{base}/v1/events/batch", keys["ingest"], batch(events[start : start + 20]))
            for customer in ("r1", "r2"):
                live = by_feature(get(f"{base}/v1/customers/{customer}/entitlements",
                                      keys["check"])[2])  # fmt: skip
                for feature, answer in exact(customer).items():
                    assert Decimal(live[feature]["usage"]) >= Decimal(answer["usage"]), feature
        run(capsys, "ingest")
        metered = {
            (row["customer_id"], row["metric"]): row["quantity"]
            for row in json.loads(run(capsys, "usage", "--period", PERIOD, "--format", "json"))
        }
        through = exact("r1")["f0"]["exact_through"]
        once_changed(
            lambda: get(f"{base}/v1/customers/r1/entitlements", keys["check"])[2],
            lambda answers: by_feature(answers)["f0"]["exact_through"] == through,
        )
        for customer in ("r1", "r2"):
            after = exact(customer)
            url = f"{base}/v1/customers/{customer}/entitlements"
            live = by_feature(get(url, keys["check"])[2])
            for feature, metric in features:
                expected = metered.get((customer, metric), "0")
                assert after[feature]["usage"] == live[feature]["usage"] == expected, feature
