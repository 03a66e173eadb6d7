"""Finance's reports over HTTP: `/v1/reports/{name}?period=P` answers the JSON `billing
report NAME --period P --format json` prints, and `/finance/{name}` shows it as a page.
Both need a `read` (or `admin`) key that is not bound to a customer: the figures are the
whole company's. The pages take the key once, on a sign-in form, and keep it in an
HttpOnly, SameSite=Strict cookie scoped to `/finance`.

No `from __future__ import annotations`: FastAPI reads these annotations at run time.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from billing_dagster.api.answer_cache import AnswerCache
from billing_dagster.api.keys import ApiKey, KeyRefused, bearer
from billing_dagster.api.models import PERIOD, PROBLEMS, Problem
from billing_dagster.api.portal import PRIVATE
from billing_dagster.invoicing.store import billed_periods
from billing_dagster.periods import period_of
from billing_dagster.reports import pages
from billing_dagster.reports.finance import NAMES, ReportUnavailable, report

#: The cookie that holds a signed-in browser's key, for 8 hours.
COOKIE = "billing_finance"
COOKIE_SECONDS = 8 * 3600
#: The periods a page offers to switch to.
PERIOD_LINKS = 12

ReportName = Annotated[str, Path(pattern=f"^({'|'.join(NAMES)})$", description="the report")]


def finance_router(
    client: Callable,
    database: str,
    admitted: Callable[[str, str, str | None], Awaitable[ApiKey]],
    answers: AnswerCache,
) -> APIRouter:
    router = APIRouter()

    async def finance_key(presented: str) -> ApiKey:
        key = await admitted(presented, "read", None)
        if key.customer_id is not None:
            raise KeyRefused(
                403,
                f"API key {key.key_id} is bound to customer {key.customer_id!r}; finance "
                f"reports need a key of the whole company",
            )
        return key

    async def figures(name: str, period: str | None) -> dict:
        period = period or period_of(datetime.now(UTC).date())
        try:
            return await run_in_threadpool(
                lambda: answers.get(
                    ("report", name, period),
                    lambda: report(client(), database, name, period, datetime.now(UTC)),
                )
            )
        except ReportUnavailable as unavailable:
            raise HTTPException(503, str(unavailable)) from None

    @router.get(
        "/v1/reports/{name}",
        response_model=dict[str, Any],
        responses={**PROBLEMS, 503: {"model": Problem, "description": "nothing deployed yet"}},
    )
    async def report_json(
        name: ReportName,
        request: Request,
        period: Annotated[str, Query(pattern=PERIOD, description="billing period, YYYY-MM")],
    ) -> dict:
        """A finance report (revenue, mrr, top-customers, anomalies or health) of a period,
        as `billing report NAME --period P --format json` prints it."""
        await finance_key(bearer(request.headers.get("authorization", "")))
        return await figures(name, period)

    @router.get("/finance", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/finance/revenue", 303)

    @router.get("/finance/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def report_page(
        name: ReportName,
        request: Request,
        period: Annotated[str | None, Query(pattern=PERIOD)] = None,
    ) -> HTMLResponse:
        presented = request.cookies.get(COOKIE) or bearer(request.headers.get("authorization", ""))
        if not presented:  # nothing wrong yet: the form
            return HTMLResponse(pages.sign_in(), headers=PRIVATE)
        try:
            await finance_key(presented)
        except KeyRefused as refused:
            return HTMLResponse(pages.sign_in(str(refused)), refused.status, PRIVATE)
        shown = await figures(name, period)
        billed = await run_in_threadpool(lambda: billed_periods(client(), database))
        current = period_of(datetime.now(UTC).date())
        periods = sorted({current, shown["period"], *billed}, reverse=True)[:PERIOD_LINKS]
        return HTMLResponse(pages.report_page(shown, periods), headers=PRIVATE)

    @router.post("/finance/sign-in", response_model=None, include_in_schema=False)
    async def sign_in(request: Request) -> HTMLResponse | RedirectResponse:
        form = parse_qs((await request.body()).decode(errors="replace"))
        presented = (form.get("key") or [""])[0].strip()
        try:
            await finance_key(presented)
        except KeyRefused as refused:
            return HTMLResponse(pages.sign_in(str(refused)), refused.status, PRIVATE)
        signed_in = RedirectResponse("/finance/revenue", 303, PRIVATE)
        signed_in.set_cookie(
            COOKIE,
            presented,
            max_age=COOKIE_SECONDS,
            path="/finance",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return signed_in

    @router.post("/finance/sign-out", include_in_schema=False)
    def sign_out() -> RedirectResponse:
        signed_out = RedirectResponse("/finance", 303, PRIVATE)
        signed_out.delete_cookie(COOKIE, path="/finance", httponly=True, samesite="strict")
        return signed_out

    return router
