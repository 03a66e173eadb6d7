"""Portal sessions over real HTTP: `billing portal-url` and the admin route hand out a
link whose token reads one customer's billing, as the CLI prints it, and nothing of any
other customer (404 on every foreign id, whatever its spelling); an expired or altered
token answers 401; a lifetime over 180 minutes is refused."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.invoicing.projection import projected_invoice
from billing_dagster.portal.sessions import open_session
from tests.api_client import call, get, serving
from tests.catalogs import PORTAL_CATALOG, portal_events
from tests.support import cli, run


def page(url: str) -> tuple[int, dict, str]:
    """Status, headers (lower-case names) and HTML of a portal page."""
    try:
        with urllib.request.urlopen(url) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {}, error.read().decode()


def token_of(link: dict) -> str:
    return link["url"].rsplit("/portal/", 1)[1]


def test_a_portal_token_reads_its_customer_only(client, database, home, tmp_path, capsys):
    catalog, path = tmp_path / "catalog.yaml", tmp_path / "events.jsonl"
    catalog.write_text(PORTAL_CATALOG)
    path.write_text(portal_events())
    run(capsys, "catalog", "apply", str(catalog))
    run(capsys, "ingest", str(path))
    run(capsys, "bill", "--period", "2026-10")
    usage = json.loads(run(capsys, "usage", "--period", "2026-10", "--format", "json"))
    billed = json.loads(run(capsys, "invoices", "--period", "2026-10", "--format", "json"))
    credits = json.loads(
        run(capsys, "credits", "--customer", "acme", "--period", "2026-10", "--format", "json")
    )
    acme_invoice, beta_invoice = sorted(billed, key=lambda i: i["customer_id"])

    link = json.loads(run(capsys, "portal-url", "--customer", "acme", "--ttl", "30"))
    assert link["url"].startswith("http://127.0.0.1:8787/portal/ps_")
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    assert cli(capsys, "portal-url", "--customer", "acme", "--ttl", "181")[0] == 2
    assert cli(capsys, "portal-url", "--customer", "acme", "--ttl", "181")[2] == (
        "billing: --ttl 181: a portal link lives 1 to 180 minutes, not 181; ask for a new "
        "link when it expires\n"
    )
    code, _, err = cli(capsys, "portal-url", "--customer", "nobody")
    assert (code, err) == (2, "billing: --customer 'nobody': no customer 'nobody' in the "
                              "catalog in force\n")  # fmt: skip
    token = token_of(link)
    expired, _ = open_session(
        client, database, "acme", 60, datetime.now(UTC) - timedelta(minutes=61), "test"
    )
    catalog_in_force = load_catalog(client, database, latest_catalog_version(client, database))
    admin = json.loads(run(capsys, "keys", "create", "--scope", "admin"))["secret"]
    reader = json.loads(run(capsys, "keys", "create", "--scope", "read"))["secret"]

    with serving(home) as (_, base):
        portal = f"{base}/v1/portal"
        assert get(f"{portal}/session", token)[2]["customer_id"] == "acme"
        assert get(f"{portal}/usage?period=2026-10", token)[2] == [
            row for row in usage if row["customer_id"] == "acme"
        ]
        documents = get(f"{portal}/invoices?period=2026-10", token)[2]
        assert documents == {"period": "2026-10", "invoices": [acme_invoice], "credit_notes": []}
        assert get(f"{portal}/credits?period=2026-10", token)[2] == credits
        usage_lines = [
            {k: line[k] for k in ("code", "group", "quantity", "amount")}
            for line in acme_invoice["lines"]
            if line["kind"] == "usage"
        ]
        assert get(f"{portal}/amounts?period=2026-10", token)[2] == {
            "period": "2026-10",
            "basis": "usage so far",
            "currency": "USD",
            "charges": acme_invoice["charges"],
            "lines": usage_lines,
        }
        projection = get(f"{portal}/projection", token)[2]
        today = datetime.now(UTC).date()
        assert projection == {
            "as_of": today.isoformat(),
            "invoice": projected_invoice(client, database, catalog_in_force, "acme", today),
        }
        assert projection["invoice"]["period"] == today.strftime("%Y-%m")
        html = page(f"{base}/portal/{token}")[2]  # the open period: its projection shows
        assert f'data-projected-total="{projection["invoice"]["total"]}"' in html
        assert (credits[0]["used"], acme_invoice["credits_applied"]) == ("0.02", "0.02")
        own = f"{portal}/invoices/{acme_invoice['invoice_id']}?period=2026-10"
        assert get(own, token)[:3:2] == (200, acme_invoice)
        foreign = f"{portal}/invoices/{beta_invoice['invoice_id']}?period=2026-10"
        assert get(foreign, token)[0] == 404
        assert [e["customer_id"] for e in get(f"{portal}/entitlements", token)[2]] == []
        # another customer's id in the query changes nothing; the token is no API key
        assert get(f"{portal}/usage?period=2026-10&customer_id=beta", token)[2] == [
            row for row in usage if row["customer_id"] == "acme"
        ]
        assert get(f"{base}/v1/customers/beta/usage?period=2026-10", token)[0] == 401
        assert_foreign_ids_are_not_found(portal, token, beta_invoice["invoice_id"])

        # the pages: the same figures, one bar per day up to the last with usage
        status, headers, html = page(f"{base}/portal/{token}?period=2026-10")
        assert (status, headers["cache-control"], headers["referrer-policy"]) == (
            200, "no-store", "no-referrer",
        )  # fmt: skip
        assert re.findall(r'data-day="([^"]+)" data-quantity="([^"]+)"', html) == [
            ("2026-10-01", "1"), ("2026-10-02", "1"), ("2026-10-03", "1"),
        ]  # fmt: skip
        (acme_usage,) = [row for row in usage if row["customer_id"] == "acme"]
        assert (
            f"<td>calls</td><td></td><td class=n>{acme_usage['quantity']}</td>"
            f"<td class=n>{usage_lines[0]['amount']}</td>"
        ) in html
        assert f"<td class=n>{acme_invoice['total']}</td>" in html
        assert "<td>g1</td><td class=n>0.02</td><td class=n>0.02</td><td class=n>0.00</td>" in html
        assert acme_invoice["invoice_id"] in html and beta_invoice["invoice_id"] not in html
        printable = f"{base}/portal/{token}/invoices/{acme_invoice['invoice_id']}?period=2026-10"
        status, _, html = page(printable)
        assert status == 200 and f"<td class=n>{acme_invoice['total']}</td>" in html
        assert (
            page(printable.replace(acme_invoice["invoice_id"], beta_invoice["invoice_id"]))[0]
            == 404
        )
        status, _, html = page(f"{base}/portal/{expired}")
        assert status == 401 and "this portal link expired at " in html

        # 401: expired, altered, missing
        status, headers, answer = get(f"{portal}/session", expired)
        assert (status, headers["www-authenticate"]) == (401, "Bearer")
        assert answer["detail"].startswith("this portal link expired at ")
        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert get(f"{portal}/session", altered)[2] == {
            "detail": "unknown portal token; open the portal with the link you were given"
        }
        assert get(f"{portal}/usage?period=2026-10")[0] == 401

        # the admin route: 403 for a read key, 422 over 180 minutes, 404 for no customer
        sessions = f"{base}/v1/customers/beta/portal_sessions"
        assert call("POST", sessions, reader, {})[0] == 403
        assert call("POST", sessions, admin, {"ttl_minutes": 181})[0] == 422
        assert call("POST", f"{base}/v1/customers/nobody/portal_sessions", admin, {})[0] == 404
        status, _, beta_link = call("POST", sessions, admin, {"ttl_minutes": 5})
        assert (status, beta_link["customer_id"]) == (201, "beta")
        assert beta_link["url"].startswith(f"{base}/portal/ps_")
        beta_documents = get(f"{portal}/invoices?period=2026-10", token_of(beta_link))[2]
        assert beta_documents["invoices"] == [beta_invoice]


def assert_foreign_ids_are_not_found(portal: str, token: str, foreign_id: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.tuples(
            st.one_of(
                st.just(foreign_id),
                st.sampled_from(["beta", "..", "%2e%2e", "acme/../beta", "' OR 1=1 --", "\\"]),
                st.text(min_size=1, max_size=30),
            ),
            st.sampled_from(["", "/", "%00"]),
        ).map("".join)
    )
    def not_found(invoice_id: str) -> None:
        path = urllib.parse.quote(invoice_id, safe="")
        status, _, _ = get(f"{portal}/invoices/{path}?period=2026-10", token)
        assert status == 404, invoice_id

    not_found()
