"""`billing serve`: the billing API over HTTP (FastAPI). Every route but `/v1/health` asks
for an API key (`Authorization: Bearer bk_...`, api/keys.py) with the right scope, and a
key bound to a customer reaches only that customer. Answers come from the warehouse as the
pipeline left it: no request runs Dagster or dbt.

No `from __future__ import annotations` here: FastAPI reads the routes' annotations, some of
them local to `create_app`, at run time.
"""

import logging
import threading
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from billing_dagster.alerts.live import LiveAlerts
from billing_dagster.api import bodies
from billing_dagster.api.answer_cache import AnswerCache, data_version
from billing_dagster.api.entitlements import entitlements_router
from billing_dagster.api.events import events_router
from billing_dagster.api.finance import finance_router
from billing_dagster.api.key_ring import KeyRing
from billing_dagster.api.keys import ApiKey, KeyRefused, authenticate, bearer, key_id_of
from billing_dagster.api.models import PERIOD, PROBLEMS, UsageRow
from billing_dagster.api.portal import portal_router
from billing_dagster.entitlements.live import LiveEntitlements
from billing_dagster.ingest.receiving import EventReceiver
from billing_dagster.metering.dbt_project import deployed
from billing_dagster.metering.usage import subscription_usage
from billing_dagster.settings import Settings
from billing_dagster.warehouse.connection import ClickHouseSettings
from billing_dagster.warehouse.schema import ensure_schema
from billing_dagster.webhooks.worker import DeliveryWorker

logger = logging.getLogger(__name__)


class Health(BaseModel):
    status: str


class KeyInfo(BaseModel):
    key_id: str
    name: str
    scope: str
    customer_id: str | None
    expires: str | None
    created_at: str
    revoked_at: str | None
    rate_limit: int | None


def create_app(home: Path, settings: Settings, seal_after_s: float = 5.0) -> FastAPI:
    warehouse = ClickHouseSettings.of(home, settings.warehouse)
    ensure_schema(warehouse.client(), warehouse.database)
    database = warehouse.database
    # Routes run in a thread pool; a client's HTTP session serves one query at a time.
    local = threading.local()

    def client():
        if not hasattr(local, "client"):
            local.client = warehouse.client()
        return local.client

    keys = KeyRing(client, database)
    live = LiveEntitlements(client, database)
    receiver = EventReceiver(home, warehouse, client, live.add, seal_after_s=seal_after_s)
    alerts = LiveAlerts(client, database, home, live)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        keys.refresh()
        live.refresh({}, force=True)
        alerts.refresh()
        receiver.start()
        housekeeping = Housekeeping(receiver, live, keys, alerts)
        housekeeping.start()
        webhooks = DeliveryWorker(client, database, home)
        webhooks.start()
        try:
            yield
        finally:
            webhooks.stop()
            housekeeping.stop()
            receiver.stop()

    app = FastAPI(
        title="Billing API",
        version="1",
        description="Usage-based billing: API keys, events, usage (docs/api.md).",
        lifespan=lifespan,
    )

    @app.exception_handler(KeyRefused)
    def refused(_: Request, error: KeyRefused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)

    @app.exception_handler(bodies.BadBody)
    def bad_body(_: Request, error: bodies.BadBody) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    async def admitted(presented: str, scope: str, customer_id: str | None) -> ApiKey:
        """The key presented, if it lets in a request of `scope` about `customer_id`;
        else KeyRefused (401, 403 or 429)."""
        key_id = key_id_of(presented)
        key = keys.held(key_id) if key_id else None
        if key is None and key_id:  # a key not held yet: ask the warehouse
            key = await run_in_threadpool(keys.find, key_id)
        key = authenticate(key, presented, datetime.now(UTC).date())
        keys.admit(key)
        key.authorize(scope, customer_id)
        return key

    def key_with(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
        async def caller(request: Request) -> ApiKey:
            presented = bearer(request.headers.get("authorization", ""))
            return await admitted(presented, scope, _customer_of(request))

        return caller

    reader = Annotated[ApiKey, Depends(key_with("read"))]

    @app.get("/v1/health", response_model=Health)
    def health() -> Health:
        """Whether the service answers (no key needed)."""
        return Health(status="ok")

    @app.get("/v1/me", response_model=KeyInfo, responses=PROBLEMS)
    def me(key: reader) -> KeyInfo:
        """The key the request presents: its scope, customer and expiry."""
        return KeyInfo(**key.listing())

    @app.get(
        "/v1/customers/{customer_id}/usage",
        response_model=list[UsageRow],
        responses=PROBLEMS,
    )
    def usage(
        customer_id: str,
        period: Annotated[str, Query(pattern=PERIOD, description="billing period, YYYY-MM")],
        key: reader,
    ) -> list[UsageRow]:
        """The customer's metered usage in a period, as of the last metering run: the rows
        `billing usage --period P --format json` prints for this customer."""
        if not deployed(client(), database, ["fct_subscription_usage"]):
            raise HTTPException(503, "nothing metered yet: the dbt views are not deployed")
        rows = subscription_usage(client(), database, period, customer_id)
        return [UsageRow(**row.document()) for row in rows]

    app.include_router(events_router(receiver, key_with))
    app.include_router(entitlements_router(live, receiver, key_with))
    answers = AnswerCache(lambda: data_version(client(), database))
    app.include_router(portal_router(client, database, live, key_with, answers))
    app.include_router(finance_router(client, database, admitted, answers))
    return app


class Housekeeping(threading.Thread):
    """Every `every_s` seconds: seals the open segment when it is due (so a quiet server
    still hands its events to the ingest job), forgets the keys of loaded files, reads
    exact usage again after a metering run and the keys (so revocations apply), and raises
    the alerts the live usage of the customers with new events crossed."""

    def __init__(
        self,
        receiver: EventReceiver,
        live: LiveEntitlements,
        keys: KeyRing,
        alerts: LiveAlerts,
        every_s: float = 1.0,
    ):
        super().__init__(name="housekeeping", daemon=True)
        self.receiver = receiver
        self.live = live
        self.keys = keys
        self.alerts = alerts
        self.every_s = every_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every_s):
            try:
                self.receiver.seal_if_due()
                self.receiver.forget_loaded()
                self.live.refresh(self.receiver.sealed)
                self.keys.refresh()
                self.alerts.refresh()
                self.alerts.evaluate(self.live.touched())
            except Exception as error:  # the next round retries; the server keeps serving
                logger.warning("housekeeping: %s", error)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _customer_of(request: Request) -> str | None:
    """The customer a request is about: in its path (`/v1/customers/{id}/...`) or its
    query (`?customer_id=`)."""
    return request.path_params.get("customer_id") or request.query_params.get("customer_id")
