"""The customer portal's API: an admin key opens a portal session for a customer
(`POST /v1/customers/{id}/portal_sessions`, or `billing portal-url`), and its token reads
that customer's billing under `/v1/portal/...`, read-only, until it expires. Whatever
belongs to another customer answers 404, as if it did not exist.

No `from __future__ import annotations`: FastAPI reads these annotations at run time.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from billing_dagster.api.answer_cache import AnswerCache
from billing_dagster.api.entitlements import Entitlement
from billing_dagster.api.keys import ApiKey, bearer
from billing_dagster.api.models import PERIOD, PROBLEMS, Problem, UsageRow
from billing_dagster.catalog.model import Catalog
from billing_dagster.catalog.store import latest_catalog_version, load_catalog
from billing_dagster.entitlements.live import LiveEntitlements
from billing_dagster.invoicing.credits import credit_balances
from billing_dagster.invoicing.projection import (
    invoice_so_far,
    projected_invoice,
    projection_day,
)
from billing_dagster.invoicing.store import (
    CustomerUsage,
    billed_periods,
    finalization,
    latest_credit_notes,
    latest_invoices,
)
from billing_dagster.invoicing.voids import with_void_status
from billing_dagster.metering.dbt_project import deployed
from billing_dagster.metering.usage import daily_usage, subscription_usage
from billing_dagster.periods import period_of
from billing_dagster.portal import pages
from billing_dagster.portal.sessions import (
    DEFAULT_TTL_MINUTES,
    MAX_TTL_MINUTES,
    PortalSession,
    SessionRefused,
    open_session,
    portal_url,
    session_of,
)

#: Pages hold the token in their address: never cached, never sent on as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
TOKEN_PROBLEMS = {
    401: {"model": Problem, "description": "no portal token, or one unknown or expired"},
    404: {"model": Problem, "description": "nothing of this customer by that id"},
}


class PortalSessionRequest(BaseModel):
    ttl_minutes: int = Field(DEFAULT_TTL_MINUTES, ge=1, le=MAX_TTL_MINUTES)


class PortalLink(BaseModel):
    customer_id: str
    url: str  # holds the token: hand it to the customer only
    expires_at: str


class SessionInfo(BaseModel):
    customer_id: str
    expires_at: str


class Projection(BaseModel):
    as_of: str | None  # the last day of exact usage it stands on
    invoice: dict[str, Any] | None  # the contract's invoice JSON, `status: projected`


class UsageAmounts(BaseModel):
    period: str
    basis: str  # "finalized invoice", or "usage so far" (the draft billing would write now)
    currency: str | None
    charges: str | None  # fixed fees and usage, before minimums, discounts, tax, credits
    lines: list[dict[str, Any]]  # per metric and group: quantity and amount, as invoiced


class PeriodDocuments(BaseModel):
    period: str
    invoices: list[dict[str, Any]]  # the contract's invoice JSON, with `status`
    credit_notes: list[dict[str, Any]]


def portal_router(
    client: Callable,
    database: str,
    live: LiveEntitlements,
    key_with: Callable[[str], Callable[[Request], ApiKey]],
    answers: AnswerCache,
) -> APIRouter:
    router = APIRouter()
    admin = Annotated[ApiKey, Depends(key_with("admin"))]
    # Threads that read a page's parts side by side, each with its own warehouse client.
    readers = ThreadPoolExecutor(max_workers=6, thread_name_prefix="portal-read")

    async def portal_session(request: Request) -> PortalSession:
        presented = bearer(request.headers.get("authorization", ""))
        try:  # the warehouse client of the worker thread, not of the event loop's
            return await run_in_threadpool(
                lambda: session_of(client(), database, presented, datetime.now(UTC))
            )
        except SessionRefused as refused:
            raise HTTPException(401, str(refused), {"WWW-Authenticate": "Bearer"}) from None

    session = Annotated[PortalSession, Depends(portal_session)]
    period_query = Annotated[str, Query(pattern=PERIOD, description="billing period, YYYY-MM")]

    @router.post(
        "/v1/customers/{customer_id}/portal_sessions",
        status_code=201,
        response_model=PortalLink,
        responses={**PROBLEMS, 404: {"model": Problem}},
    )
    def create_session(
        customer_id: str, request: Request, key: admin, body: PortalSessionRequest | None = None
    ) -> PortalLink:
        """A link to the customer's portal, read-only, expiring (60 minutes unless asked,
        at most 180)."""
        ttl = (body or PortalSessionRequest()).ttl_minutes
        try:
            token, opened = open_session(
                client(), database, customer_id, ttl, datetime.now(UTC), key.key_id
            )
        except LookupError as unknown:
            raise HTTPException(404, str(unknown)) from None
        return PortalLink(
            customer_id=customer_id,
            url=portal_url(str(request.base_url), token),
            expires_at=opened.expires_at.isoformat(),
        )

    @router.get("/v1/portal/session", response_model=SessionInfo, responses=TOKEN_PROBLEMS)
    def whoami(opened: session) -> SessionInfo:
        """The customer the token reads, and until when."""
        return SessionInfo(customer_id=opened.customer_id, expires_at=opened.expires_at.isoformat())

    @router.get("/v1/portal/usage", response_model=list[UsageRow], responses=TOKEN_PROBLEMS)
    def usage(opened: session, period: period_query) -> list[dict]:
        """The customer's metered usage in a period, as `billing usage` prints it."""
        return _usage(opened.customer_id, period)

    @router.get("/v1/portal/amounts", response_model=UsageAmounts, responses=TOKEN_PROBLEMS)
    def amounts(opened: session, period: period_query) -> UsageAmounts:
        """What the period's usage comes to: the usage lines of its finalized invoice, or
        of the invoice billing would draft now from the usage metered so far."""
        return _amounts(opened.customer_id, period)

    @router.get(
        "/v1/portal/entitlements", response_model=list[Entitlement], responses=TOKEN_PROBLEMS
    )
    def entitlements(opened: session) -> list[dict]:
        """Each feature now: limit, usage, remaining, as the entitlement API answers."""
        return live.answers(opened.customer_id, Decimal(0))

    @router.get("/v1/portal/credits", response_model=list[dict[str, Any]], responses=TOKEN_PROBLEMS)
    def credits(opened: session, period: period_query) -> list[dict]:
        """Each credit grant of the customer after a period: granted, used, left (as
        `billing credits` prints them)."""
        return _credits(opened.customer_id, period)

    @router.get("/v1/portal/projection", response_model=Projection, responses=TOKEN_PROBLEMS)
    def projection(opened: session) -> Projection:
        """The open period's invoice as it comes out if usage goes on at the pace of its
        days gone: projected quantities, priced and invoiced like every invoice."""
        return _projection(opened.customer_id)

    @router.get("/v1/portal/invoices", response_model=PeriodDocuments, responses=TOKEN_PROBLEMS)
    def invoices(opened: session, period: period_query) -> PeriodDocuments:
        """The customer's invoices and credit notes of a period (none before it is billed)."""
        return PeriodDocuments(period=period, **_documents(opened.customer_id, period))

    @router.get(
        "/v1/portal/invoices/{invoice_id}",
        response_model=dict[str, Any],
        responses=TOKEN_PROBLEMS,
    )
    def invoice(opened: session, invoice_id: str, period: period_query) -> dict:
        """One invoice of the customer (or 404)."""
        document = _own_invoice(opened.customer_id, period, invoice_id)
        if document is None:
            raise HTTPException(404, f"no invoice {invoice_id!r} in {period}")
        return document

    @router.get("/portal/{token}", response_class=HTMLResponse, include_in_schema=False)
    def overview_page(
        token: str,
        period: Annotated[str | None, Query(pattern=PERIOD)] = None,
    ) -> HTMLResponse:
        """The customer's portal: a period's usage with daily charts, the entitlements
        now, and the period's invoices."""
        now = datetime.now(UTC)
        try:
            opened = session_of(client(), database, token, now)
        except SessionRefused as refused:
            return HTMLResponse(pages.refused(str(refused)), 401, PRIVATE)
        current = period_of(now.date())
        period = period or current
        customer = opened.customer_id

        def billed() -> dict:
            """What the pipeline wrote (kept until it writes again), its parts read at
            once: each is a query or two, which the warehouse runs side by side. The
            amounts, credits and projection share one read of the customer's rated usage."""
            usage = _rated(customer, period)
            parts = {
                "periods": lambda: sorted({current, *billed_periods(client(), database)},
                                          reverse=True),
                "amounts": lambda: _amounts(customer, period, usage).model_dump(),
                "credits": lambda: _credits(customer, period, usage),
                "projection": lambda: _projection(customer, usage).model_dump()
                if period == current else None,
                "daily": lambda: daily_usage(client(), database, period, customer)
                if _deployed("fct_metric_usage_daily") else {},
                "documents": lambda: _documents(customer, period),
            }  # fmt: skip
            reading = {name: readers.submit(read) for name, read in parts.items()}
            return {name: future.result() for name, future in reading.items()}

        html = pages.overview(
            base=f"/portal/{token}",
            customer=_customer_name(customer),
            period=period,
            entitlements=live.answers(customer, Decimal(0)),
            expires_at=opened.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            **answers.get(("portal", customer, period, current), billed),
        )
        return HTMLResponse(html, headers=PRIVATE)

    @router.get(
        "/portal/{token}/invoices/{invoice_id}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def invoice_page(token: str, invoice_id: str, period: period_query) -> HTMLResponse:
        """One invoice of the customer, printable."""
        try:
            opened = session_of(client(), database, token, datetime.now(UTC))
        except SessionRefused as refused:
            return HTMLResponse(pages.refused(str(refused)), 401, PRIVATE)
        document = _own_invoice(opened.customer_id, period, invoice_id)
        if document is None:
            message = f"No invoice {invoice_id!r} in {period}."
            return HTMLResponse(pages.missing(message), 404, PRIVATE)
        return HTMLResponse(pages.invoice_page(document), headers=PRIVATE)

    def _deployed(model: str) -> bool:
        return bool(deployed(client(), database, [model]))

    def _usage(customer_id: str, period: str) -> list[dict]:
        if not _deployed("fct_subscription_usage"):
            return []
        rows = subscription_usage(client(), database, period, customer_id)
        return [row.document() for row in rows]

    @lru_cache(maxsize=2)
    def _catalog(version: int) -> Catalog:
        """A catalog version never changes: parsed once per server (10,000 customers
        take 0.2 s)."""
        return load_catalog(client(), database, version)

    def _rated(customer_id: str, period: str) -> CustomerUsage | None:
        """The customer's rated usage up to `period`, read once for each of its invoice so
        far, credit balances or projection that share it; None before anything is rated."""
        catalog = _catalog_in_force()
        if catalog is None or not _deployed("fct_rated_usage"):
            return None
        customer = next((c for c in catalog.customers if c.id == customer_id), None)
        return CustomerUsage(client, database, customer, period) if customer else None

    def _catalog_in_force() -> Catalog | None:
        version = latest_catalog_version(client(), database)
        return _catalog(version) if version is not None else None

    readers.submit(_catalog_in_force)  # parsed before the first page asks for it

    def _credits(customer_id: str, period: str, usage: CustomerUsage | None = None) -> list[dict]:
        usage = usage or _rated(customer_id, period)
        if usage is None:
            return []
        catalog = _catalog_in_force()
        return credit_balances(client(), database, catalog, customer_id, period, usage)

    def _amounts(customer_id: str, period: str, usage: CustomerUsage | None = None) -> UsageAmounts:
        if finalization(client(), database, period):
            basis = "finalized invoice"
            invoice = next(iter(_documents(customer_id, period)["invoices"]), None)
        else:
            basis = "usage so far"
            usage = usage or _rated(customer_id, period)
            invoice = (
                invoice_so_far(client(), database, _catalog_in_force(), customer_id, period, usage)
                if usage
                else None
            )
        if invoice is None:
            return UsageAmounts(period=period, basis=basis, currency=None, charges=None, lines=[])
        return UsageAmounts(
            period=period,
            basis=basis,
            currency=invoice["currency"],
            charges=invoice["charges"],
            lines=[
                {k: line[k] for k in ("code", "group", "quantity", "amount")}
                for line in invoice["lines"]
                if line["kind"] == "usage"
            ],
        )

    def _projection(customer_id: str, usage: CustomerUsage | None = None) -> Projection:
        as_of = projection_day(client(), database, datetime.now(UTC).date())
        if as_of is not None and (usage is None or usage.last_period != period_of(as_of)):
            usage = _rated(customer_id, period_of(as_of))
        if as_of is None or usage is None or not _deployed("fct_projected_rated_usage"):
            return Projection(as_of=None, invoice=None)
        catalog = _catalog_in_force()
        invoice = projected_invoice(client(), database, catalog, customer_id, as_of, usage)
        return Projection(as_of=as_of.isoformat(), invoice=invoice)

    def _customer_name(customer_id: str) -> str:
        catalog = _catalog_in_force()
        customers = catalog.customers if catalog is not None else ()
        return next((c.name for c in customers if c.id == customer_id), customer_id)

    def _own_invoice(customer_id: str, period: str, invoice_id: str) -> dict | None:
        invoices = _documents(customer_id, period)["invoices"]
        return next((i for i in invoices if i["invoice_id"] == invoice_id), None)

    def _documents(customer_id: str, period: str) -> dict[str, list]:
        own = latest_invoices(client(), database, period, customer_id) or []
        return {
            "invoices": with_void_status(client(), database, own),
            "credit_notes": latest_credit_notes(client(), database, period, customer_id) or [],
        }

    return router
