"""The entitlement API: may this customer use this feature now, answered from memory
(entitlements/live.py), and `consume`, which checks and records an event at once.

No `from __future__ import annotations`: FastAPI reads these annotations at run time.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from billing_dagster.api import bodies
from billing_dagster.api.events import (
    BODY_PROBLEMS,
    EVENT_SCHEMA,
    Receipt,
    read_body,
    request_body,
)
from billing_dagster.api.keys import ApiKey
from billing_dagster.api.models import PROBLEMS
from billing_dagster.entitlements.live import LiveEntitlements
from billing_dagster.ingest.receiving import EventReceiver

QUANTITY = r"^[0-9]{1,26}([.][0-9]{1,12})?$"


class Grant(BaseModel):
    id: str
    units: str
    burnt: str


class Entitlement(BaseModel):
    """Decimals are exact strings; `remaining` is null when unlimited, never 0."""

    customer_id: str
    feature: str
    kind: Literal["metered", "boolean", "static"] | None
    has_access: bool
    reason: Literal[
        "ok",
        "limit_reached",
        "spending_cap",
        "blocked_dispute_lost",
        "blocked_past_due",
        "not_in_plan",
        "no_subscription",
    ]
    enforcement: Literal["soft", "hard"] | None
    limit: str | None
    usage: str | None
    requested: str
    remaining: str | None
    overage: str | None
    period: Literal["billing_period", "day", "hour"] | None
    period_start: str | None
    period_end: str | None
    grants: list[Grant]
    exact_through: str | None
    as_of: str
    config: dict[str, Any] | None


class Consumed(BaseModel):
    entitlement: Entitlement
    receipt: Receipt | None


def entitlements_router(
    live: LiveEntitlements,
    receiver: EventReceiver,
    key_with: Callable[[str], Callable[[Request], ApiKey]],
) -> APIRouter:
    router = APIRouter()
    checker = Annotated[ApiKey, Depends(key_with("check"))]
    requested_query = Annotated[
        str, Query(pattern=QUANTITY, description="units the caller is about to use")
    ]

    @router.get(
        "/v1/customers/{customer_id}/entitlements/{feature}",
        response_model=Entitlement,
        responses=PROBLEMS,
    )
    async def check(customer_id: str, feature: str, key: checker, requested: requested_query = "1"):
        """May the customer use `requested` more units of the feature now? Usage is exact as
        of the last metering run plus the events accepted since. (Answered on the event
        loop: memory only, no warehouse.)"""
        return live.answer(customer_id, feature, Decimal(requested))

    @router.get(
        "/v1/customers/{customer_id}/entitlements",
        response_model=list[Entitlement],
        responses=PROBLEMS,
    )
    async def check_all(customer_id: str, key: checker, requested: requested_query = "1"):
        """Every feature of the customer's subscription in force, answered at once."""
        return live.answers(customer_id, Decimal(requested))

    @router.post(
        "/v1/customers/{customer_id}/entitlements/{feature}/consume",
        response_model=Consumed,
        responses={**PROBLEMS, **BODY_PROBLEMS, 422: {"model": Receipt}},
        openapi_extra=request_body(EVENT_SCHEMA),
    )
    async def consume(customer_id: str, feature: str, request: Request, key: checker):
        """Check and record one event at once: it is stored (202) only if the feature
        allows what it adds, so concurrent callers never overshoot a hard limit; refused,
        nothing is stored (200 with `has_access: false`). Resending an event counts it
        once (its receipt says duplicate)."""
        bodies.check_content_type(request.headers.get("content-type", ""))
        line = bodies.one_event(await read_body(request))
        (event,) = await run_in_threadpool(receiver.check, [line])
        if event.reason:
            receipt = Receipt(index=0, event_id=event.event_id or None, status="rejected",
                              reason=event.reason)  # fmt: skip
            return JSONResponse(receipt.model_dump(), status_code=422)
        if event.customer_id != customer_id:
            raise HTTPException(
                400, f'the event is of customer "{event.customer_id}", not "{customer_id}"'
            )
        decision, receipt = await run_in_threadpool(
            live.consume, customer_id, feature, event, receiver
        )
        return JSONResponse(
            {"entitlement": decision, "receipt": receipt.document() if receipt else None},
            status_code=202 if receipt else 200,
        )

    return router
