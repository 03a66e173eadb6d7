"""The data-quality asset checks on the real pipeline: each passes on clean data and fails,
with its exact message, on data made to break it.

The checks run where users get them: inside the jobs the CLI launches (`billing ingest`,
`billing bill`); their evaluations are read from the billing home's Dagster instance. Checks
of data no command writes badly (a stored event off the contract, an invoice that does not
add up) run alone after the rows are altered in the warehouse.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from billing_dagster.cli.main import main as billing
from billing_dagster.defs.quality.invoices import invoice_invariants
from billing_dagster.defs.quality.schema import event_schema

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
TODAY = NOW.date()
HOUR = NOW.replace(minute=0)

CATALOG = """\
metrics:
  - {{code: calls, event_name: api, aggregation: count}}
plans:
  - code: basic
    name: Basic
    versions:
      - version: 1
        effective_from: 2020-01-01
        currency: USD
        fixed_fees:
          - {{code: platform, amount: "10.00"}}
        charges:
          - {{metric: calls, model: per_unit, unit_price: "0.01"}}
customers:
  - id: a
    name: A
    tax_rate: "0.20"
    subscriptions:
      - {{plan: basic, start: 2020-01-01}}
  - id: b
    name: B
    subscriptions:
      - {{plan: basic, start: 2020-01-01, end: {b_end}}}
{more}"""
B_END = TODAY - timedelta(days=2)
#: A billing period in which both customers are subscribed.
PERIOD = (B_END - timedelta(days=1)).strftime("%Y-%m")
#: Steady usage (10 events a day, source "batch") on the 7 days before a spike 4 days ago.
#: Events are on consecutive days up to today, so that each ingest meters one range of days.
SPIKE_AT = NOW - timedelta(days=4, minutes=30)
STEADY_AT = [SPIKE_AT - timedelta(days=n) for n in range(1, 8)]
CUSTOMER_C = """\
  - id: c
    name: C
    subscriptions:
      - {plan: basic, start: 2020-01-01}
"""


def ev(key: str, at: datetime, customer: str = "a", name: str = "api", **extra) -> dict:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event_id": key,
        "customer_id": customer,
        "event_name": name,
        "timestamp": stamp,
        **extra,
    }


def hourly(source: str, hours: range, skip: tuple[int, ...] = ()) -> list[dict]:
    """One event of customer a per hour, `hours` hours ago, in the middle of the hour."""
    return [
        ev(f"{source}-{h}", HOUR - timedelta(hours=h, minutes=-30), source=source)
        for h in hours
        if h not in skip
    ]


def write(path, lines) -> str:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


def run(capsys, *args) -> str:
    code = billing(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def evaluations(job_name: str, runs: int = 1) -> dict[str, list[dg.AssetCheckEvaluation]]:
    """The check evaluations of the latest runs of a job in the instance the CLI used, by
    check name, newest first (a command may run a job more than once, e.g. per day range)."""
    instance = dg.DagsterInstance.get()
    found: dict[str, list[dg.AssetCheckEvaluation]] = {}
    for latest in instance.get_runs(filters=dg.RunsFilter(job_name=job_name), limit=runs):
        for record in instance.all_logs(
            latest.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ):
            evaluation = record.dagster_event.asset_check_evaluation_data
            found.setdefault(evaluation.check_name, []).append(evaluation)
    return found


def latest(job_name: str) -> dict[str, dg.AssetCheckEvaluation]:
    return {name: found[0] for name, found in evaluations(job_name).items()}


def run_check(check, partition_key: str) -> dg.AssetCheckEvaluation:
    """One check alone, on what the warehouse holds now (its asset is not materialized)."""
    from billing_dagster.definitions import build_definitions

    job = dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(check))
    definitions = dg.Definitions(
        asset_checks=[check],
        jobs=[job],
        resources={"clickhouse": build_definitions().resources["clickhouse"]},
    )
    # The partition as a tag: `partition_key=` looks for a partitioned asset in the job.
    result = definitions.resolve_job_def("check_only").execute_in_process(
        tags={"dagster/partition": partition_key}, instance=dg.DagsterInstance.ephemeral()
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def metadata(evaluation: dg.AssetCheckEvaluation, name: str):
    value = evaluation.metadata[name]
    return getattr(value, "data", getattr(value, "value", value))


@pytest.fixture
def catalog(home, database, tmp_path, capsys):
    def apply(more: str = "") -> None:
        path = tmp_path / "catalog.yaml"
        path.write_text(CATALOG.format(b_end=B_END.isoformat(), more=more))
        run(capsys, "catalog", "apply", str(path))

    apply()
    return apply


def test_checks_pass_on_clean_data_and_catch_altered_rows(
    catalog, client, database, tmp_path, capsys
):
    first = [*hourly("web", range(1, 31)), ev("quiet", NOW - timedelta(minutes=5))]
    first.append(first[0])  # the same event again: a duplicate, not a conflict
    files = [
        write(tmp_path / "events-0001.jsonl", first),
        write(tmp_path / "events-0002.jsonl", hourly("web", range(31, 40))),
    ]
    run(capsys, "ingest", *files)

    checks = latest("ingest_job")
    assert sorted(checks) == [
        "file_sequence",
        "idempotency_conflicts",
        "late_events",
        "outside_subscriptions",
        "quarantine",
        "schema_and_types",
        "source_freshness",
        "source_gaps",
        "unknown_metrics",
    ]
    assert {name: e.passed for name, e in checks.items()} == dict.fromkeys(checks, True)
    assert checks["schema_and_types"].description == "40 events meet every expectation"
    assert checks["idempotency_conflicts"].description == "1 duplicates, no idempotency conflict"
    assert checks["quarantine"].description == "none of 41 lines quarantined"
    assert checks["source_freshness"].description == "2 sources sent events within 24 h"
    assert metadata(checks["source_freshness"], "last_event") == {
        "(no source)": (NOW - timedelta(minutes=5)).isoformat(),
        "web": (HOUR - timedelta(minutes=30)).isoformat(),
    }
    for spikes in evaluations("metering_job", runs=10)["usage_spikes"]:
        assert spikes.passed, spikes.description

    run(capsys, "bill", "--period", PERIOD)
    invariants = latest("billing_job")["invoice_invariants"]
    assert (invariants.passed, invariants.description) == (
        True,
        "2 invoices add up and every active subscription is invoiced",
    )

    # A landing day without loads has nothing to judge.
    empty = run_check(event_schema, (TODAY - timedelta(days=1)).isoformat())
    assert (empty.passed, empty.description) == (True, "0 events meet every expectation")

    # A row no loader would store, written into a committed load.
    client.command(
        f"INSERT INTO `{database}`.raw_events (event_date, customer_id, event_id, event_name, "
        f"timestamp, void, load_seq, line_no) VALUES "
        f"('2019-12-31', 'a', '', 'api', '2019-12-31 23:00:00', false, 1, 99)"
    )
    schema = run_check(event_schema, TODAY.isoformat())
    assert (schema.passed, schema.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert schema.description == (
        "2 expectations failed on 41 events: event_id 1..256 characters: events-0001.jsonl:99; "
        "timestamp >= 2020-01-01: events-0001.jsonl:99"
    )

    # An invoice that no longer adds up, and a customer added after billing.
    client.command(
        f"ALTER TABLE `{database}`.invoice_lines UPDATE amount = amount + 1 "
        f"WHERE kind = 'fixed_fee' AND invoice_id IN "
        f"(SELECT invoice_id FROM `{database}`.invoices WHERE customer_id = 'a')",
        settings={"mutations_sync": 2},
    )
    catalog(CUSTOMER_C)
    invariants = run_check(invoice_invariants, f"{PERIOD}-01")
    (invoice_id, charges, total), *_ = client.query(
        f"SELECT invoice_id, charges, total FROM `{database}`.invoices WHERE customer_id = 'a'"
    ).result_rows
    run_id = client.command(f"SELECT billing_run_id FROM `{database}`.billing_runs")
    assert (invariants.passed, invariants.severity) == (False, dg.AssetCheckSeverity.ERROR)
    where = f"invoice {invoice_id} (customer a)"
    assert metadata(invariants, "problems") == [
        f"{where}: charges is {charges:.2f} but its fixed_fee/usage lines sum to {charges + 1:.2f}",
        f"{where}: subtotal is {charges:.2f} but its fixed_fee/minimum_commitment/usage lines "
        f"sum to {charges + 1:.2f}",
        f"{where}: total is {total:.2f} but its lines sum to {total + 1:.2f}",
        f"{PERIOD}: customer c has a subscription active in the period but no invoice in "
        f"billing run {run_id}",
    ]


def test_checks_warn_on_broken_arrivals(catalog, client, database, tmp_path, capsys):
    web = hourly("web", range(1, 61), skip=(10, 11))
    mobile_last = NOW - timedelta(hours=72, minutes=30)
    steady = [ev(f"steady-{t:%d}-{n}", t, source="batch") for t in STEADY_AT for n in range(10)]
    spike = [ev(f"spike-{n}", SPIKE_AT, source="batch") for n in range(1200)]
    bad = ["{not json"] + [
        {"event_id": f"no-ts-{n}", "customer_id": "a", "event_name": "api"} for n in range(19)
    ]
    first = [
        *web,
        ev("m1", mobile_last, source="mobile"),
        ev("v2-1", HOUR, name="api_v2", source="web"),
        ev("v2-2", HOUR, name="api_v2", source="web"),
        *(ev(f"b{n}", HOUR - timedelta(hours=n), customer="b", source="web") for n in (1, 2, 3)),
        *steady,
        *spike,
        *bad,
    ]
    run(capsys, "ingest", write(tmp_path / "events-0001.jsonl", first))
    (spikes,) = [e for e in evaluations("metering_job", runs=10)["usage_spikes"] if not e.passed]
    assert spikes.severity == dg.AssetCheckSeverity.WARN
    assert spikes.description == (
        f'1 usage spikes: customer "a" metric "calls" on {SPIKE_AT.date()}: 1200 events, 7-day median 10'
    )

    yesterday = HOUR - timedelta(days=1)
    conflict = dict(web[0], properties={"changed": "yes"})
    # The checks read the clock: how long a source has been silent is known only to within
    # this run of them (a slow suite runs this test long after NOW).
    checks_began = datetime.now(UTC)
    run(
        capsys,
        "ingest",
        write(tmp_path / "events-0003.jsonl", [conflict, ev("late", yesterday, source="web")]),
    )
    checks_ended = datetime.now(UTC)
    checks = latest("ingest_job")
    failed = {name: (e.passed, e.severity.value) for name, e in checks.items() if not e.passed}
    assert failed == {
        "file_sequence": (False, "WARN"),
        "idempotency_conflicts": (False, "WARN"),
        "late_events": (False, "WARN"),
        "outside_subscriptions": (False, "WARN"),
        "quarantine": (False, "ERROR"),
        "source_freshness": (False, "WARN"),
        "source_gaps": (False, "WARN"),
        "unknown_metrics": (False, "WARN"),
    }
    described = {name: checks[name].description for name in failed}
    gap_from, gap_to = HOUR - timedelta(hours=11), HOUR - timedelta(hours=9)
    lines = len(first) + 2

    def freshness(clock: datetime) -> str:
        def silent(since: datetime) -> int:
            return int((clock - since) / timedelta(hours=1))

        return (
            f'source "batch": no events for {silent(SPIKE_AT)} h (last at '
            f'{SPIKE_AT:%Y-%m-%dT%H:%M}Z; limit 24 h); source "mobile": no events for '
            f"{silent(mobile_last)} h (last at {mobile_last:%Y-%m-%dT%H:%M}Z; limit 24 h)"
        )

    assert described.pop("source_freshness") in {freshness(checks_began), freshness(checks_ended)}
    assert described == {
        "file_sequence": "events-NNNN.jsonl: missing events-0002.jsonl",
        "idempotency_conflicts": (
            '1 idempotency conflicts among 1 duplicates: customer "a" event "web-1" at '
            "events-0003.jsonl:1 differs from its first copy at events-0001.jsonl:1"
        ),
        "late_events": (
            f"1 late events on 1 days metered before their load: {yesterday.date()} (1)"
        ),
        "outside_subscriptions": (
            '3 events outside any subscription of their customer: customer_id "b" (3)'
        ),
        "quarantine": (
            f"20 of {lines} lines quarantined ({20 / lines:.2%}): "
            f'19 × missing required field "timestamp" (e.g. events-0001.jsonl:{lines - 20}); '
            f"1 × line is not valid JSON (e.g. events-0001.jsonl:{lines - 21})"
        ),
        "source_gaps": (
            f'1 gaps: source "web": no events from {gap_from:%Y-%m-%dT%H:%M}Z to '
            f"{gap_to:%Y-%m-%dT%H:%M}Z (2 h)"
        ),
        "unknown_metrics": (
            '2 events matching no metric of the catalog in force: event_name "api_v2" (2)'
        ),
    }
    assert metadata(checks["quarantine"], "quarantined") == 20
    assert metadata(checks["late_events"], "days") == [yesterday.date().isoformat()]
    assert metadata(checks["idempotency_conflicts"], "examples") == [
        {"customer_id": "a", "event_id": "web-1", "file": "events-0003.jsonl", "line": 1}
    ]
    assert date.fromisoformat(metadata(checks["late_events"], "days")[0]) < TODAY

    # The failing checks reach webhook endpoints: one data_quality.failed per evaluation.
    from billing_dagster.definitions import build_definitions
    from sensors.data_quality_webhooks import data_quality_webhooks

    definitions = build_definitions()
    for _ in range(2):  # the second tick writes nothing new
        with dg.build_sensor_context(
            instance=dg.DagsterInstance.get(),
            repository_def=definitions.get_repository_def(),
            resources={"clickhouse": definitions.resources["clickhouse"]},
        ) as context:
            data_quality_webhooks(context)
    announced = client.query(
        f"SELECT JSONExtractString(payload, 'data', 'check'), count() "
        f"FROM `{database}`.webhook_events WHERE event_type = 'data_quality.failed' "
        f"GROUP BY 1 ORDER BY 1"
    ).result_rows
    assert {check.rsplit(":", 1)[-1] for check, n in announced if n == 1} >= set(failed)
    assert all(n == 1 for _, n in announced)
