"""The event API: send usage as it happens, with a receipt per event, and ask where an
event is. Events become durable before the answer (ingest/receiving.py); the ingest job
loads them like any landed file, and the event store answers where they ended up.

No `from __future__ import annotations`: FastAPI reads these annotations at run time.
"""

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from billing_dagster.api import bodies
from billing_dagster.api.keys import ApiKey
from billing_dagster.api.models import PROBLEMS, Problem
from billing_dagster.ingest.receiving import EventReceiver, NoCatalog, NotYourCustomer
from billing_dagster.ingest.whereabouts import EventWhereabouts, event_whereabouts


class Event(BaseModel):
    """A usage event (CONTRACT.md §1); the loader's checks decide whether it is valid."""

    event_id: str = Field(max_length=256)
    customer_id: str
    event_name: str
    timestamp: str = Field(description="RFC 3339 with an offset or Z")
    properties: dict[str, str | float | int | bool] | None = None
    source: str | None = None
    replaces: str | None = Field(None, description="event_id of the event this corrects")
    void: bool | None = None


class Receipt(BaseModel):
    index: int
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None


class Receipts(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    receipts: list[Receipt]


class Copy(BaseModel):
    file_name: str
    load_seq: int
    line_no: int


class Quarantined(Copy):
    reason: str


class Whereabouts(BaseModel):
    customer_id: str
    event_id: str
    status: Literal["received", "loaded", "quarantined"]
    loaded: Copy | None
    duplicates: list[Copy]
    conflicts: list[Copy]
    quarantined: list[Quarantined]
    metrics: list[str] = Field(description="metrics the loaded event counts under")


def request_body(schema: dict) -> dict:
    """The request body as OpenAPI shows it; the route reads the raw bytes itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


EVENT_SCHEMA = Event.model_json_schema()
BATCH_SCHEMA = {
    "type": "object",
    "title": "Batch",
    "properties": {
        "events": {
            "type": "array",
            "items": EVENT_SCHEMA,
            "minItems": 1,
            "maxItems": bodies.MAX_BATCH_EVENTS,
        }
    },
    "required": ["events"],
    "additionalProperties": False,
}


BODY_PROBLEMS = {
    400: {"model": Problem, "description": "malformed JSON, wrong content type, empty body"},
    413: {"model": Problem, "description": "over 5 MiB or 1,000 events"},
    503: {"model": Problem, "description": "no catalog yet, or storage failed: resend"},
}


def events_router(
    receiver: EventReceiver, key_with: Callable[[str], Callable[[Request], ApiKey]]
) -> APIRouter:
    router = APIRouter()
    ingester = Annotated[ApiKey, Depends(key_with("ingest"))]
    reader = Annotated[ApiKey, Depends(key_with("read"))]

    async def receive(request: Request, key: ApiKey, cut: Callable[[bytes], list[str]]):
        bodies.check_content_type(request.headers.get("content-type", ""))
        lines = cut(await read_body(request))
        try:
            receipts = await run_in_threadpool(receiver.receive, lines, key.customer_id)
        except NotYourCustomer as error:
            raise HTTPException(403, str(error)) from None
        except NoCatalog as error:
            raise HTTPException(503, str(error)) from None
        except OSError as error:
            raise HTTPException(
                503,
                f"the events could not be stored ({error.strerror}); none was received, "
                f"send them again",
            ) from None
        return [receipt.document() for receipt in receipts]

    @router.post(
        "/v1/events",
        status_code=202,
        response_model=Receipt,
        responses={**PROBLEMS, **BODY_PROBLEMS, 422: {"model": Receipt}},
        openapi_extra=request_body(EVENT_SCHEMA),
    )
    async def post_event(request: Request, key: ingester):
        """Send one event. 202 once it is stored durably (accepted, or a duplicate of an
        event received before); 422 with the loader's reason when it is rejected."""
        (receipt,) = await receive(request, key, lambda body: [bodies.one_event(body)])
        return JSONResponse(receipt, status_code=422 if receipt["status"] == "rejected" else 202)

    @router.post(
        "/v1/events/batch",
        status_code=202,
        response_model=Receipts,
        responses={**PROBLEMS, **BODY_PROBLEMS},
        openapi_extra=request_body(BATCH_SCHEMA),
    )
    async def post_batch(request: Request, key: ingester):
        """Send up to 1,000 events (5 MiB). 202 once every accepted event is stored
        durably, with a receipt per event in order: accepted, duplicate (of an event
        received before; a conflict when its content differs) or rejected (with the
        reason the file loader would quarantine it with). Rejected events are not stored."""
        receipts = await receive(request, key, bodies.batch_of_events)
        statuses = [receipt["status"] for receipt in receipts]
        return JSONResponse(
            {
                "accepted": statuses.count("accepted"),
                "duplicates": statuses.count("duplicate"),
                "rejected": statuses.count("rejected"),
                "receipts": receipts,
            },
            status_code=202,
        )

    @router.get(
        "/v1/events/{event_id}",
        response_model=Whereabouts,
        responses={**PROBLEMS, 404: {"model": Problem, "description": "never received"}},
    )
    def get_event(
        event_id: str,
        customer_id: Annotated[str, Query(description="the event's customer")],
        key: reader,
    ) -> Whereabouts:
        """Where an event is: received (stored, not loaded yet), loaded (with the file,
        its later copies and the metrics it counts under) or quarantined (with reasons)."""
        found = event_whereabouts(
            receiver.client(), receiver.warehouse.database, customer_id, event_id
        )
        if found is None and receiver.received((customer_id, event_id)):
            found = EventWhereabouts.received(customer_id, event_id)
        if found is None:
            raise HTTPException(
                404, f'no event "{event_id}" of customer "{customer_id}" was received'
            )
        return Whereabouts(**found.document())

    return router


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is over the limit (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bodies.MAX_BODY_BYTES:
        raise bodies.too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bodies.MAX_BODY_BYTES:
            raise bodies.too_large()
        chunks.append(chunk)
    return b"".join(chunks)
