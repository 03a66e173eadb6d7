"""`billing`: the command line of CONTRACT.md §4.

Thin by design: each command validates its input, then launches the same Dagster jobs the
schedules and the UI run. Results go to stdout; logs and progress go to stderr. Exit codes:
0 success, 2 bad input (one line per problem on stderr), 1 any other failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from billing_dagster.alerts.live import LiveAlerts
from billing_dagster.catalog.migration_log import undone_migrations
from billing_dagster.catalog.store import (
    CatalogConflict,
    apply_catalog,
    latest_catalog_version,
    load_catalog,
)
from billing_dagster.cli.client import stop_worker
from billing_dagster.disputes.store import dispute_history
from billing_dagster.entitlements.live import LiveEntitlements
from billing_dagster.formatting import json_text, table, titled_table
from billing_dagster.ingest import landing
from billing_dagster.ingest.landing_day import waiting_files
from billing_dagster.ingest.ledger import LOAD_COUNTS, already_loaded, load_counts
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.invoicing.assemble import active_days
from billing_dagster.invoicing.credits import credit_balances
from billing_dagster.invoicing.finalization import (
    carrier_period,
    finalization_problems,
)
from billing_dagster.invoicing.interim import interim_invoices
from billing_dagster.invoicing.printing import invoice_tables
from billing_dagster.invoicing.refunds import DESTINATIONS
from billing_dagster.invoicing.store import (
    billed_periods,
    finalization,
    finalizations,
    last_billed_period,
    latest_credit_notes,
    latest_invoices,
)
from billing_dagster.invoicing.voids import with_void_status
from billing_dagster.locks import CATALOG, REFUNDS, USAGE, home_lock
from billing_dagster.metering.backfill import ranges_to_meter
from billing_dagster.metering.dbt_project import models_deployed
from billing_dagster.metering.usage import subscription_usage
from billing_dagster.monitoring.printing import status_tables
from billing_dagster.monitoring.status import status_report
from billing_dagster.periods import next_period, period_bounds, period_of
from billing_dagster.portal.sessions import (
    DEFAULT_TTL_MINUTES,
    MAX_TTL_MINUTES,
    checked_ttl,
    open_session,
    portal_url,
)
from billing_dagster.reports.finance import NAMES, ReportUnavailable, report
from billing_dagster.reports.printing import report_text
from billing_dagster.settings import Settings, SettingsError
from billing_dagster.warehouse import embedded
from billing_dagster.warehouse.connection import ClickHouseSettings, billing_home, keep_private
from billing_dagster.warehouse.schema import ensure_schema


class BadInput(Exception):
    """Input the user must fix; each problem is printed on its own line."""

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    home = billing_home(args.home)
    keep_private(home)
    try:
        try:
            args.config = Settings.from_env()  # the environment, read once and checked
        except SettingsError as error:
            raise BadInput(str(error)) from None
        code = args.command(args, home)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at interpreter exit
        return code
    except BadInput as error:
        for problem in error.problems:
            print(f"billing: {problem}", file=sys.stderr)
        embedded.stop_if_started_here(home)
        return 2
    except KeyboardInterrupt:
        print("billing: interrupted", file=sys.stderr)
        return _failed(home)
    except BrokenPipeError:  # `billing invoices | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        print(f"billing: {type(error).__name__}: {error}", file=sys.stderr)
        return _failed(home)


def _failed(home: Path) -> int:
    """Exit 1, stopping the embedded warehouse if this command started it for nothing."""
    embedded.stop_if_started_here(home)
    return 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="billing home: warehouse, Dagster instance, landing zone (default $BILLING_HOME "
        "or ./.billing)",
    )
    parser = argparse.ArgumentParser(prog="billing", description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    warehouse = commands.add_parser("warehouse", parents=[common], help="embedded warehouse")
    warehouse.add_argument("action", choices=["start", "stop", "status", "credentials"])
    warehouse.add_argument(
        "--format",
        choices=["json", "env"],
        default="json",
        help="credentials as JSON, or as `export CLICKHOUSE_...` lines for a shell",
    )
    warehouse.set_defaults(command=cmd_warehouse)

    dbt = commands.add_parser(
        "dbt", parents=[common], help="run dbt on this home's warehouse (any dbt arguments)"
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="e.g. build, docs generate")
    dbt.set_defaults(command=cmd_dbt)

    catalog = commands.add_parser("catalog", parents=[common], help="the catalog")
    catalog_actions = catalog.add_subparsers(required=True, metavar="ACTION")
    apply = catalog_actions.add_parser("apply", parents=[common], help="validate and load")
    apply.add_argument("file", type=Path)
    apply.set_defaults(command=cmd_catalog_apply)

    migrate = commands.add_parser(
        "migrate", parents=[common], help="move subscriptions to another version of their plan"
    )
    migrate.add_argument("--plan", required=True, metavar="CODE", help="the plan's code")
    migrate.add_argument("--from-version", required=True, type=int, metavar="N", help="left")
    migrate.add_argument("--to-version", required=True, type=int, metavar="M", help="moved to")
    migrate.add_argument(
        "--effective", required=True, metavar="DATE", help="the first day on the new version"
    )
    migrate.add_argument(
        "--customers",
        nargs="+",
        metavar="ID",
        help="only these customers (default: every customer on the version that day)",
    )
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="print each moved customer's invoice of that period before and after; change nothing",
    )
    migrate.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="then write the catalog in force to FILE as YAML (e.g. your catalog file)",
    )
    migrate.add_argument("--format", choices=["table", "json"], default="table")
    migrate.set_defaults(command=cmd_migrate)

    ingest = commands.add_parser(
        "ingest",
        parents=[common],
        help="load event files; with none, load what has landed and is waiting (the API's)",
    )
    ingest.add_argument("files", nargs="*", type=Path)
    ingest.set_defaults(command=cmd_ingest)

    usage = commands.add_parser("usage", parents=[common], help="metered quantities")
    usage.add_argument("--period", required=True, help="billing period, YYYY-MM")
    usage.add_argument("--format", choices=["table", "json"], default="table")
    usage.set_defaults(command=cmd_usage)

    bill = commands.add_parser("bill", parents=[common], help="bill a period (draft invoices)")
    bill.add_argument("--period", required=True, help="billing period, YYYY-MM")
    bill.set_defaults(command=cmd_bill)

    finalize = commands.add_parser(
        "finalize", parents=[common], help="bill a period from current data and finalize it"
    )
    finalize.add_argument("--period", required=True, help="billing period, YYYY-MM")
    finalize.set_defaults(command=cmd_finalize)

    backfill = commands.add_parser(
        "backfill", parents=[common], help="re-meter days and re-bill the periods they touch"
    )
    backfill.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
    backfill.set_defaults(command=cmd_backfill)

    invoices = commands.add_parser("invoices", parents=[common], help="a period's invoices")
    invoices.add_argument("--period", required=True, help="billing period, YYYY-MM")
    invoices.add_argument("--format", choices=["table", "json"], default="table")
    invoices.set_defaults(command=cmd_invoices)

    status = commands.add_parser(
        "status", parents=[common], help="loads, lag, failing checks, drafts, adjustments"
    )
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.set_defaults(command=cmd_status)

    notes = commands.add_parser(
        "credit-notes", parents=[common], help="credit notes issued with a period's invoices"
    )
    notes.add_argument("--period", required=True, help="billing period, YYYY-MM")
    notes.add_argument("--format", choices=["table", "json"], default="table")
    notes.set_defaults(command=cmd_credit_notes)

    credits = commands.add_parser("credits", parents=[common], help="credit grant balances")
    credits.add_argument("--customer", required=True, help="the customer's id")
    credits.add_argument(
        "--period", help="balances after this period, YYYY-MM (default: the last billed one)"
    )
    credits.add_argument("--format", choices=["table", "json"], default="table")
    credits.set_defaults(command=cmd_credits)

    sync = commands.add_parser(
        "sync", parents=[common], help="push a finalized period to the payment gateway"
    )
    sync.add_argument("--period", required=True, help="billing period, YYYY-MM")
    sync.set_defaults(command=cmd_sync)

    keys = commands.add_parser("keys", parents=[common], help="API keys of the billing API")
    key_actions = keys.add_subparsers(required=True, dest="action", metavar="ACTION")
    create = key_actions.add_parser(
        "create", parents=[common], help="create a key; its secret is printed once"
    )
    create.add_argument("--scope", required=True, choices=["ingest", "check", "read", "admin"])
    create.add_argument("--customer", help="bind the key to one customer of the catalog")
    create.add_argument("--expires", help="last day the key works, YYYY-MM-DD")
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="requests per second the key may make (beyond: 429 with Retry-After)",
    )
    key_actions.add_parser("list", parents=[common], help="the keys, without their secrets")
    revoke = key_actions.add_parser("revoke", parents=[common], help="revoke a key")
    revoke.add_argument("key_id")
    keys.set_defaults(command=cmd_keys)

    entitlements = commands.add_parser(
        "entitlements",
        parents=[common],
        help="a customer's features now: access, limit, usage (what the API answers)",
    )
    entitlements.add_argument("--customer", required=True, help="the customer's id")
    entitlements.add_argument("--requested", default="1", help="units about to be used (default 1)")
    entitlements.add_argument("--format", choices=["table", "json"], default="table")
    entitlements.set_defaults(command=cmd_entitlements)

    portal = commands.add_parser(
        "portal-url",
        parents=[common],
        help="a link to a customer's portal: read-only, expiring, printed once",
    )
    portal.add_argument("--customer", required=True, help="the customer's id")
    portal.add_argument(
        "--ttl",
        type=int,
        default=DEFAULT_TTL_MINUTES,
        metavar="MINUTES",
        help=f"how long the link works (default {DEFAULT_TTL_MINUTES}, at most {MAX_TTL_MINUTES})",
    )
    portal.add_argument(
        "--base-url",
        default="http://127.0.0.1:8787",
        help="where `billing serve` answers the customer (default http://127.0.0.1:8787)",
    )
    portal.set_defaults(command=cmd_portal_url)

    serve = commands.add_parser("serve", parents=[common], help="the billing API over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument(
        "--seal-after",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long received events gather in a segment before it lands (default 5)",
    )
    serve.set_defaults(command=cmd_serve)

    webhooks = commands.add_parser("webhooks", parents=[common], help="webhook endpoints")
    hook_actions = webhooks.add_subparsers(required=True, dest="action", metavar="ACTION")
    add = hook_actions.add_parser(
        "add", parents=[common], help="send events to a URL; its signing secret is printed once"
    )
    add.add_argument("url")
    add.add_argument(
        "--events", required=True, help="comma-separated event types, e.g. alert.triggered"
    )
    add.add_argument("--secret", help="the signing secret to use (default: a new random one)")
    hook_actions.add_parser("list", parents=[common], help="the endpoints, without secrets")
    remove = hook_actions.add_parser("remove", parents=[common], help="stop sending to one")
    remove.add_argument("endpoint_id")
    replay = hook_actions.add_parser(
        "replay", parents=[common], help="deliver an event again to its endpoints"
    )
    replay.add_argument("event_id")
    hook_actions.add_parser("deliver", parents=[common], help="post what is due now, once")
    webhooks.set_defaults(command=cmd_webhooks)

    alerts = commands.add_parser("alerts", parents=[common], help="usage alerts that fired")
    alerts.add_argument("--period", help="only this billing period, YYYY-MM")
    alerts.add_argument("--format", choices=["table", "json"], default="table")
    alerts.set_defaults(command=cmd_alerts)

    disputes = commands.add_parser(
        "disputes", parents=[common], help="disputed payments and their latest state"
    )
    disputes.add_argument("--period", help="only disputes of this period's invoices, YYYY-MM")
    disputes.add_argument("--format", choices=["table", "json"], default="table")
    disputes.set_defaults(command=cmd_disputes)

    report = commands.add_parser(
        "report", parents=[common], help="finance reports: revenue, MRR, top customers..."
    )
    report.add_argument("name", choices=NAMES, help="which report")
    report.add_argument("--period", required=True, help="billing period, YYYY-MM")
    report.add_argument("--format", choices=["table", "json"], default="table")
    report.set_defaults(command=cmd_report)

    void = commands.add_parser("void", parents=[common], help="void a finalized invoice")
    void.add_argument("--invoice", required=True, help="the invoice's id")
    void.add_argument("--reason", required=True, help="why it is voided")
    void.set_defaults(command=cmd_void)

    refund = commands.add_parser(
        "refund", parents=[common], help="refund a paid, finalized invoice (a credit note)"
    )
    refund.add_argument("--invoice", required=True, help="the invoice's id")
    refund.add_argument("--amount", required=True, help="what to return, e.g. 30.00")
    refund.add_argument("--reason", required=True, help="why the money is returned")
    refund.add_argument(
        "--to",
        choices=DESTINATIONS,
        default="payment",
        help="back to the payment (default), or to the customer's balance on the gateway",
    )
    refund.set_defaults(command=cmd_refund)

    erase = commands.add_parser(
        "erase",
        parents=[common],
        help="erase a customer's personal data (GDPR), keeping its invoices",
    )
    erase.add_argument("--customer", required=True, help="the customer's id")
    erase.add_argument("--reason", required=True, help="why (kept in the erasure audit)")
    erase.set_defaults(command=cmd_erase)

    partners = commands.add_parser(
        "partner-statements",
        parents=[common],
        help="what each partner is owed for a finalized period",
    )
    partners.add_argument("--period", required=True, help="billing period, YYYY-MM")
    partners.add_argument("--format", choices=["table", "json"], default="table")
    partners.set_defaults(command=cmd_partner_statements)
    return parser


def _connect(args, home: Path):
    settings = ClickHouseSettings.of(home, args.config.warehouse)
    client = settings.client()
    ensure_schema(client, settings.database)
    return settings, client


def _require_catalog(client, database: str) -> int:
    version = latest_catalog_version(client, database)
    if version is None:
        raise BadInput("no catalog has been applied yet; run `billing catalog apply FILE` first")
    return version


def _runner(home: Path):
    from billing_dagster.cli.runs import JobRunner  # Dagster is slow to import; only when used

    return JobRunner(home)


def cmd_warehouse(args, home: Path) -> int:
    if args.action == "start":
        endpoint = embedded.ensure_running(home, idle_timeout_s=0)
        print(
            json.dumps(
                {
                    "status": "running",
                    "host": endpoint.host,
                    "port": endpoint.port,
                    "pid": endpoint.pid,
                }
            )
        )
    elif args.action == "stop":
        stop_worker(home)  # it would start the warehouse again for the next command
        print(json.dumps({"status": "stopped" if embedded.stop(home) else "not running"}))
    elif args.action == "credentials" and args.format == "env":
        variables = ClickHouseSettings.of(home, args.config.warehouse).dbt_env()
        print("".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items()))
    elif args.action == "credentials":
        print(json_text(_warehouse_credentials(args, home)))
    else:
        endpoint = embedded.running_endpoint(home)
        status = (
            {"status": "running", "host": endpoint.host, "port": endpoint.port, "pid": endpoint.pid}
            if endpoint
            else {"status": "not running"}
        )
        print(json.dumps(status))
    return 0


def _warehouse_credentials(args, home: Path) -> dict:
    """How analysts' tools (dbt, clickhouse-client, BI) connect: the embedded warehouse of
    this home (started if needed), or the server the environment names."""
    settings = ClickHouseSettings.of(home, args.config.warehouse)
    return {
        "host": settings.host,
        "port": settings.port,
        "user": settings.user,
        "password": settings.password,
        "database": settings.database,
        "url": f"http{'s' if settings.secure else ''}://{settings.host}:{settings.port}",
    }


def cmd_dbt(args, home: Path) -> int:
    """dbt on the project with this home's warehouse; its artifacts go to `<home>/dbt/manual`
    (the repository's `target/` and the deployed views' record stay as they are)."""
    from billing_dagster.metering.dbt_project import DBT_PROJECT_DIR

    settings = ClickHouseSettings.of(home, args.config.warehouse)
    ensure_schema(settings.client(), settings.database)
    target = home / "dbt" / "manual"
    command = [str(Path(sys.executable).with_name("dbt")), *args.dbt_args]
    command += ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    environment = {**os.environ, **settings.dbt_env(), "DBT_TARGET_PATH": str(target)}
    environment["DBT_LOG_PATH"] = str(target)
    return subprocess.run(command, env=environment).returncode


def cmd_catalog_apply(args, home: Path) -> int:
    from billing_dagster.catalog.validate import CatalogError, validate_catalog_file

    if not args.file.is_file():
        raise BadInput(f"{args.file}: no such file")
    try:
        catalog = validate_catalog_file(args.file, args.config.gateway.kind)
    except CatalogError as error:
        raise BadInput(*error.problems) from None
    settings, client = _connect(args, home)
    with home_lock(home, CATALOG):
        previous = latest_catalog_version(client, settings.database)
        if undone := undone_migrations(client, settings.database, catalog):
            raise BadInput(*(f"{args.file}: {problem}" for problem in undone))
        try:
            applied = apply_catalog(
                client, settings.database, catalog, str(args.file), args.file.read_text()
            )
        except CatalogConflict as error:
            raise BadInput(*(f"{args.file}: {problem}" for problem in error.problems)) from None
    if applied.changed:
        runner = _runner(home)
        runner.report_catalog_applied(applied.version)
        # A new or removed metric makes every day with events stale (metering/ledger.py).
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        if previous is not None and ranges_to_meter(client, settings.database, tomorrow):
            runner.ensure_models_deployed(client, settings.database, tomorrow)
    print(
        json.dumps(
            {
                "catalog_version": applied.version,
                "changed": applied.changed,
                "metrics": len(catalog.metrics),
                "plans": len(catalog.plans),
                "customers": len(catalog.customers),
                "subscriptions": len(catalog.subscriptions),
            }
        )
    )
    return 0


def cmd_migrate(args, home: Path) -> int:
    """A new catalog version with the customers moved, once; or, with --dry-run, their
    invoices before and after, and nothing changed."""
    from billing_dagster.catalog.migration import Migration, MigrationRefused
    from billing_dagster.catalog.migration_log import apply_migration, planned_migration
    from billing_dagster.invoicing.migration_preview import migration_preview, preview_text

    migration = Migration(
        args.plan,
        args.from_version,
        args.to_version,
        parse_day(args.effective, "--effective"),
        tuple(args.customers) if args.customers else None,
    )
    if args.dry_run and args.write:
        raise BadInput("--write: a dry run changes nothing, so there is nothing to write")
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    # The usage lock too: no period is finalized between the check and the new version,
    # and a dry run never reads a day half re-metered.
    with home_lock(home, CATALOG), home_lock(home, USAGE):
        finalized = finalizations(client, settings.database)
        last_finalized = finalized[-1].period if finalized else None
        try:
            if args.dry_run:
                plan = planned_migration(client, settings.database, migration, last_finalized)
                if not models_deployed(client, settings.database):
                    raise BadInput(
                        f"--dry-run prices the usage metered so far with the deployed rating "
                        f"models, which are missing or out of date; run `billing bill --period "
                        f"{period_of(migration.effective)}` first"
                    )
                pairs = migration_preview(client, settings.database, migration, plan)
                return _show(args, pairs, lambda: preview_text(pairs) or _nothing_moved(plan))
            result = apply_migration(client, settings.database, migration, last_finalized)
        except MigrationRefused as refused:
            raise BadInput(str(refused)) from None
    if result.changed:
        _runner(home).report_catalog_applied(result.catalog_version)
    else:
        print(f"billing: {_nothing_moved(result.plan)}; nothing changed", file=sys.stderr)
    if args.write:
        _write_migrated_catalog(args, migration, result)
    elif result.changed:
        print(
            f"billing: your catalog file still has {', '.join(result.plan.moved)} on "
            f"version {migration.from_version}; before its next `billing catalog apply`, end "
            f"those subscriptions on {migration.effective.isoformat()} and add ones on "
            f"version {migration.to_version} from that day, or write the catalog in force "
            f"with --write FILE (docs/invoicing.md, Plan migrations)",
            file=sys.stderr,
        )
    summary = {
        "catalog_version": result.catalog_version,
        "changed": result.changed,
        "moved": list(result.plan.moved),
        "already_moved": list(result.plan.already_moved),
    }
    return _show(args, summary, lambda: json.dumps(summary))


def _write_migrated_catalog(args, migration, result) -> None:
    from billing_dagster.catalog.yaml_writer import UnwritableCatalog, write_catalog_yaml

    header = (
        f"# The catalog in force (version {result.catalog_version}), written by `billing "
        f"migrate` after moving {migration.describe()}.\n"
    )
    try:
        write_catalog_yaml(result.plan.catalog, args.write, header, args.config.gateway.kind)
    except UnwritableCatalog as error:
        raise BadInput(
            f"--write {args.write}: the catalog could not be written as YAML ({error}); the "
            f"migration is applied: bring your catalog file up to date by hand "
            f"(docs/invoicing.md, Plan migrations)"
        ) from None
    print(f"billing: wrote the catalog in force to {args.write}", file=sys.stderr)


def _nothing_moved(plan) -> str:
    return f"already migrated: {', '.join(plan.already_moved)}"


def cmd_ingest(args, home: Path) -> int:
    missing = [f"{path}: no such file" for path in args.files if not path.is_file()]
    for path in args.files:
        try:
            landing.suffix_of(path.name)
        except ValueError as error:
            missing.append(str(error))
    if missing:
        raise BadInput(*missing)
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    today = datetime.now(UTC).date()
    runner = _runner(home)
    with ThreadPoolExecutor(1, thread_name_prefix="landing") as lander:
        # Files land while the dbt views deploy (a fresh home's first ingest): copying and
        # hashing let go of the GIL. The views deploy before the load, so that their tests
        # read only what is stored already: after it, a first deployment would test every
        # event just loaded.
        arriving = lander.submit(_land_new_files, home, settings, args.files, today)
        runner.ensure_models_deployed(client, settings.database)
        landed = arriving.result()
    days = {today} if landed else set()
    if not args.files:
        waiting = waiting_files(home, client, settings.database)
        landed = [file for files in waiting.values() for file in files]
        days = set(waiting)
        print(f"billing: {len(landed)} landed files waiting to load", file=sys.stderr)
    summary = dict.fromkeys(LOAD_COUNTS, 0)
    for day in sorted(days):
        runner.ingest(day)
    if landed:
        summary = load_counts(client, settings.database, [file.sha256 for file in landed])
    # Every day a load changed since it was metered, this load's or one an interrupted
    # command left behind (events may be a day ahead of the clock).
    runner.meter_stale_days(client, settings.database, today + timedelta(days=1))
    print(json.dumps(summary))
    return 0


def _land_new_files(
    home: Path, settings, paths: list[Path], today: date
) -> list[landing.LandedFile]:
    """Land `paths` and return the files to load: one loaded before, under any name, or
    given twice, is named on stderr and left out. Each is looked up as soon as it lands,
    before a concurrent command may load it, by a client of its own: this runs beside the
    deployment of the views."""
    client = settings.client()
    try:
        landed, seen = [], set()
        for position, path in enumerate(paths):
            file = landing.land(home, path, today, position)
            if file.sha256 in seen or already_loaded(client, settings.database, file.sha256):
                print(f"billing: {path}: already loaded, nothing to load", file=sys.stderr)
            else:
                landed.append(file)
            seen.add(file.sha256)
        return landed
    finally:
        client.close()


def parse_period(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise BadInput(f"--period {text!r}: expected a month as YYYY-MM, e.g. 2026-10")
    first, current = period_of(FIRST_EVENT_DATE), period_of(datetime.now(UTC).date())
    if text < first:
        raise BadInput(f"--period {text}: billing periods start at {first}, the first metering day")
    if text > current:
        raise BadInput(f"--period {text} has not begun; the latest period is {current}")
    return text


def parse_day(text: str, option: str) -> date:
    with contextlib.suppress(ValueError):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    raise BadInput(f"{option} {text!r}: expected a day as YYYY-MM-DD, e.g. 2026-10-15")


def cmd_usage(args, home: Path) -> int:
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    last_day = period_bounds(period)[1] - timedelta(days=1)
    _runner(home).ensure_models_deployed(client, settings.database, last_day)
    rows = subscription_usage(client, settings.database, period)
    usage = [row.document() for row in rows]
    # For people, the plan of each row: a customer who changed plan has a row per plan.
    plans = [{**row.document(), "plan": f"{row.plan} v{row.plan_version}"} for row in rows]
    columns = ["customer_id", "plan", "metric", "group", "period", "quantity"]
    return _show(args, usage, lambda: table(plans, columns))


def cmd_portal_url(args, home: Path) -> int:
    try:
        ttl = checked_ttl(args.ttl)
    except ValueError as refused:
        raise BadInput(f"--ttl {args.ttl}: {refused}") from None
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    try:
        token, session = open_session(
            client, settings.database, args.customer, ttl, datetime.now(UTC), "cli"
        )
    except LookupError as unknown:
        raise BadInput(f"--customer {args.customer!r}: {unknown}") from None
    link = {
        "customer_id": session.customer_id,
        "url": portal_url(args.base_url, token),
        "expires_at": session.expires_at.isoformat(),
    }
    print(json.dumps(link))
    return 0


def cmd_entitlements(args, home: Path) -> int:
    try:
        requested = Decimal(args.requested)
    except ArithmeticError:
        requested = None
    if requested is None or not requested.is_finite() or requested < 0:
        raise BadInput(f"--requested {args.requested!r}: expected a number of units, e.g. 1")
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    _runner(home).ensure_models_deployed(client, settings.database)
    live = LiveEntitlements(settings.client, settings.database)
    live.refresh({}, force=True)
    LiveAlerts(settings.client, settings.database, home, live).refresh()  # spending caps
    answers = live.answers(args.customer, requested)
    if not answers:
        raise BadInput(
            f'customer "{args.customer}" has no subscription in force today, so no features'
        )
    columns = ["feature", "kind", "has_access", "reason", "enforcement", "limit", "usage",
               "remaining", "overage", "period"]  # fmt: skip
    return _show(args, answers, lambda: table(answers, columns))


def cmd_bill(args, home: Path) -> int:
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    catalog = load_catalog(
        client, settings.database, latest_catalog_version(client, settings.database)
    )
    carrier = carrier_period([f.period for f in finalizations(client, settings.database)])
    if period != carrier and not any(active_days(s, period) for s in catalog.subscriptions):
        raise BadInput(
            f"no subscription of the catalog is active in {period}: there is nothing to bill"
        )
    runner = _runner(home)
    runner.ensure_models_deployed(client, settings.database)
    final = finalization(client, settings.database, period)
    if final:
        print(
            f"billing: period {period} is finalized; its invoices never change. Late or "
            f"corrected events are billed as adjustments with the next open period.",
            file=sys.stderr,
        )
    else:
        runner.bill(client, settings.database, period)
    _print_summary(client, settings.database, period)
    return 0


def cmd_finalize(args, home: Path) -> int:
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    if not finalization(client, settings.database, period):
        problems = finalization_problems(
            period,
            datetime.now(UTC).date(),
            args.config.finalize_grace_days,
            billed_periods(client, settings.database),
            [f.period for f in finalizations(client, settings.database)],
        )
        if problems:
            raise BadInput(*problems)
        runner = _runner(home)
        runner.ensure_models_deployed(client, settings.database)
        runner.finalize(client, settings.database, period)
    _print_summary(client, settings.database, period)
    return 0


def cmd_backfill(args, home: Path) -> int:
    first, last = parse_day(args.first, "--from"), parse_day(args.last, "--to")
    if first > last:
        raise BadInput(f"--from {first} is after --to {last}")
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    runner = _runner(home)
    runner.ensure_models_deployed(client, settings.database)
    periods = runner.backfill(client, settings.database, first, last)
    print(
        json.dumps(
            {"metered": {"from": first.isoformat(), "to": last.isoformat()}, "billed": periods}
        )
    )
    return 0


def _show(args, result, for_people: Callable[[], str]) -> int:
    """Print a command's result: JSON with `--format json`, else text for people."""
    print(json_text(result) if args.format == "json" else for_people())
    return 0


def _print_summary(client, database: str, period: str) -> None:
    invoices = latest_invoices(client, database, period) or []
    notes = latest_credit_notes(client, database, period) or []
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice["currency"]] = totals.get(invoice["currency"], Decimal(0)) + Decimal(
            invoice["total"]
        )
    print(
        json.dumps(
            {
                "period": period,
                "invoices": len(invoices),
                "credit_notes": len(notes),
                "status": "finalized" if finalization(client, database, period) else "draft",
                "totals": {currency: str(total) for currency, total in sorted(totals.items())},
            }
        )
    )


def cmd_invoices(args, home: Path) -> int:
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    invoices = latest_invoices(client, settings.database, period)
    if invoices is None:
        raise BadInput(f"period {period} has not been billed; run `billing bill --period {period}`")
    # A customer's interim invoices (threshold invoicing), in the order issued, come before
    # the period's invoice that deducts them.
    interims = interim_invoices(client, settings.database, period)
    invoices = sorted(
        interims + with_void_status(client, settings.database, invoices),
        key=lambda invoice: (invoice["customer_id"], "interim" not in invoice),
    )
    return _show(args, invoices, lambda: invoice_tables(invoices))


def cmd_report(args, home: Path) -> int:
    """Deploys the marts first when the dbt project changed, so a report never reads views
    of an older version."""
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    _require_catalog(client, settings.database)
    _runner(home).ensure_models_deployed(client, settings.database)
    try:
        figures = report(client, settings.database, args.name, period, datetime.now(UTC))
    except ReportUnavailable as unavailable:
        raise BadInput(str(unavailable)) from None
    return _show(args, figures, lambda: report_text(figures))


def cmd_status(args, home: Path) -> int:
    settings, client = _connect(args, home)
    failing = _runner(home).failing_checks()
    grace_days = args.config.finalize_grace_days
    report = status_report(client, settings.database, failing, datetime.now(UTC), grace_days)
    return _show(args, report, lambda: status_tables(report))


def cmd_credit_notes(args, home: Path) -> int:
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    notes = latest_credit_notes(client, settings.database, period)
    if notes is None:
        raise BadInput(f"period {period} has not been billed; run `billing bill --period {period}`")
    columns = ["credit_note_id", "customer_id", "adjusts_invoice", "currency", "total"]
    return _show(args, notes, lambda: table(notes, columns))


def cmd_credits(args, home: Path) -> int:
    settings, client = _connect(args, home)
    version = _require_catalog(client, settings.database)
    catalog = load_catalog(client, settings.database, version)
    if args.customer not in {customer.id for customer in catalog.customers}:
        raise BadInput(f'unknown customer "{args.customer}": not a customer in the catalog')
    period = (
        parse_period(args.period) if args.period else last_billed_period(client, settings.database)
    )
    if period is None:
        raise BadInput("no period has been billed yet; give --period YYYY-MM")
    rows = credit_balances(client, settings.database, catalog, args.customer, period)
    columns = ["grant", "amount", "used", "balance", "effective", "expires", "priority"]
    title = f"Credit balances of {args.customer} after {period}"
    customer = next(c for c in catalog.customers if c.id == args.customer)
    billed = set(billed_periods(client, settings.database))
    unbilled, current = (
        [],
        period_of(min((s.start for s in customer.subscriptions), default=date.max)),
    )
    while current <= period:
        unbilled += [current] if current not in billed else []
        current = next_period(current)
    if unbilled:
        note = (
            f"not billed yet: {', '.join(unbilled)}; their use is what their metered usage "
            f"would take"
        )
        print(f"billing: note: {note}", file=sys.stderr)
        title += f" ({note})"
    return _show(args, rows, lambda: f"{title}\n{table(rows, columns)}")


def cmd_sync(args, home: Path) -> int:
    """Exit 1 when a document failed: the summary on stdout says which and why."""
    period = parse_period(args.period)
    settings, client = _connect(args, home)
    if not finalization(client, settings.database, period):
        raise BadInput(
            f"period {period} is not finalized: only finalized invoices are synced; run "
            f"`billing finalize --period {period}` first"
        )
    from billing_dagster.cli.sync import run_sync  # Dagster is slow to import; only when used

    summary = run_sync(home, period)
    print(json_text(summary))
    return 1 if summary["failed"] or not summary["totals_check"]["passed"] else 0


def cmd_keys(args, home: Path) -> int:
    from billing_dagster.api import keys

    settings, client = _connect(args, home)
    if args.action == "list":
        print(json.dumps([key.listing() for key in keys.list_keys(client, settings.database)]))
        return 0
    if args.action == "revoke":
        try:
            key = keys.revoke_key(client, settings.database, args.key_id)
        except LookupError as error:
            raise BadInput(str(error)) from None
        print(json.dumps(key.listing()))
        return 0
    expires = parse_day(args.expires, "--expires") if args.expires else None
    if args.customer is not None:
        version = _require_catalog(client, settings.database)
        catalog = load_catalog(client, settings.database, version)
        if all(customer.id != args.customer for customer in catalog.customers):
            raise BadInput(f"--customer {args.customer!r}: no such customer in the catalog")
    if args.rate_limit is not None and args.rate_limit < 1:
        raise BadInput(f"--rate-limit {args.rate_limit}: expected requests per second, at least 1")
    key, secret = keys.create_key(
        client, settings.database, args.scope, args.name, args.customer, expires, args.rate_limit
    )
    print(json.dumps({**key.listing(), "secret": secret}))
    print(
        f"billing: keep the secret of key {key.key_id} now: it is stored only as a hash and "
        f"is never shown again",
        file=sys.stderr,
    )
    return 0


def cmd_serve(args, home: Path) -> int:
    import uvicorn

    from billing_dagster.api.app import create_app

    app = create_app(home, args.config, seal_after_s=args.seal_after)
    print(
        f"billing: serving the billing API on http://{args.host}:{args.port} "
        f"(OpenAPI at /openapi.json, docs at /docs); Ctrl-C stops it",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


def cmd_webhooks(args, home: Path) -> int:
    from billing_dagster.webhooks import delivery, endpoints

    settings, client = _connect(args, home)
    database = settings.database
    if args.action == "list":
        listing = [
            {**vars(e), "event_types": list(e.event_types), "created_at": e.created_at.isoformat()}
            for e in endpoints.endpoints(client, database)
        ]
        print(json.dumps(listing))
        return 0
    try:
        if args.action == "add":
            types = [t.strip() for t in args.events.split(",") if t.strip()]
            endpoint, secret = endpoints.add_endpoint(
                client, database, home, args.url, types, args.secret
            )
            print(json.dumps({"endpoint_id": endpoint.endpoint_id, "url": endpoint.url,
                              "event_types": types, "secret": secret}))  # fmt: skip
            print(
                f"billing: keep the signing secret of {endpoint.endpoint_id} now: it is not "
                f"shown again (docs/webhooks.md: verifying signatures)",
                file=sys.stderr,
            )
        elif args.action == "remove":
            endpoint = endpoints.remove_endpoint(client, database, args.endpoint_id)
            print(json.dumps({"removed": endpoint.endpoint_id, "url": endpoint.url}))
        elif args.action == "replay":
            targets = delivery.request_replay(client, database, args.event_id)
            print(json.dumps({"event_id": args.event_id, "endpoints": targets}))
        else:
            done = delivery.deliver_due(client, database, home)
            if done.skipped:
                print("billing: another deliverer is delivering now", file=sys.stderr)
            print(json.dumps({"delivered": done.delivered, "failed_attempts": done.failed}))
    except (endpoints.EndpointError, LookupError) as error:
        raise BadInput(str(error)) from None
    return 0


def cmd_alerts(args, home: Path) -> int:
    from billing_dagster.alerts.store import alert_listing

    period = parse_period(args.period) if args.period else None
    settings, client = _connect(args, home)
    rows = alert_listing(client, settings.database, period)
    columns = ["at", "alert", "source", "rule", "customer_id", "target", "period_start",
               "threshold", "figure", "limit"]  # fmt: skip
    return _show(args, rows, lambda: table(rows, columns) if rows else "no alerts have fired")


def cmd_disputes(args, home: Path) -> int:
    period = parse_period(args.period) if args.period else None
    settings, client = _connect(args, home)
    rows = dispute_history(client, settings.database, period)
    columns = ["dispute_id", "gateway", "invoice_id", "customer_id", "amount", "currency",
               "reason", "status", "gateway_status", "opened_at", "closed_at"]  # fmt: skip
    return _show(args, rows, lambda: table(rows, columns) if rows else "no disputes")


def cmd_void(args, home: Path) -> int:
    from billing_dagster.invoicing.voids import VoidRefused, void_invoice

    settings, client = _connect(args, home)
    try:
        void = void_invoice(client, settings.database, args.invoice, args.reason)
    except VoidRefused as refused:
        raise BadInput(str(refused)) from refused
    print(
        json.dumps(
            {
                "invoice_id": void.invoice_id,
                "period": void.period,
                "status": "void",
                "reason": void.reason,
                "voided_at": void.voided_at.isoformat(),
            }
        )
    )
    return 0


def cmd_partner_statements(args, home: Path) -> int:
    """Made from the period's finalized documents the first time it is asked, then kept."""
    from billing_dagster.partners.statements import statements_json
    from billing_dagster.partners.store import StatementRefused, partner_statements

    period = parse_period(args.period)
    settings, client = _connect(args, home)
    try:
        statements = statements_json(period, partner_statements(client, settings.database, period))
    except StatementRefused as refused:
        raise BadInput(str(refused)) from None
    columns = ["customer_id", "document_kind", "document_id", "for_period", "currency"]
    columns += ["basis", "share", "amount"]

    def text() -> str:
        if not statements:
            return f"No partner is owed anything for {period}."
        return "\n\n".join(
            titled_table(
                f"Partner {s['partner_id']}, {period}: "
                + ", ".join(f"{total} {currency}" for currency, total in s["totals"].items()),
                s["lines"],
                columns,
            )
            for s in statements
        )

    return _show(args, statements, text)


def cmd_erase(args, home: Path) -> int:
    """The erasure job, then the customer's days metered again: a unique count combines the
    days' states, which must all hold erased values."""
    from billing_dagster.erasure.erase import ErasureRefused, check_request, erasure_of_run
    from billing_dagster.erasure.events import event_days
    from billing_dagster.metering.backfill import metering_runs
    from billing_dagster.metering.days import BRIDGE_DAYS

    settings, client = _connect(args, home)
    try:
        check_request(client, settings.database, args.customer, args.reason)
    except ErasureRefused as refused:
        raise BadInput(str(refused)) from refused
    runner = _runner(home)
    config = {"customer_id": args.customer, "reason": args.reason}
    try:
        run = runner.run("erasure_job", ops={"erase": {"config": config}})
    finally:  # a gateway that failed fails the run, after the warehouse was erased
        days = event_days(client, settings.database, args.customer)
        if days:
            runner.ensure_models_deployed(client, settings.database)
            runner.meter_in_runs(metering_runs(client, settings.database, days, BRIDGE_DAYS))
    audit = erasure_of_run(client, settings.database, run.run_id)
    print(json.dumps(audit | {"days_metered": len(days)}))
    return 0


def cmd_refund(args, home: Path) -> int:
    """One credit note, issued once: the same refund asked again prints the first."""
    from billing_dagster.invoicing.refunds import RefundRefused, issue_refund

    settings, client = _connect(args, home)
    with home_lock(home, REFUNDS):
        try:
            note = issue_refund(
                client, settings.database, args.invoice, args.amount, args.reason, args.to
            )
        except RefundRefused as refused:
            raise BadInput(str(refused)) from refused
    print(json.dumps(note))
    print(
        f"billing: `billing sync --period {note['period']}` sends it to the gateway",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
