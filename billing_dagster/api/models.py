"""Models several routers share: the problems every route may answer, usage rows, and
the billing period of a query."""

from pydantic import BaseModel

#: A billing period in a query: YYYY-MM from 2020-01 (the CLI's first billing period: events
#: begin at `ingest.loader.FIRST_EVENT_DATE`) to 2099-12 (the warehouse's dates end in
#: 2149); another answers 422.
PERIOD = r"^20[2-9]\d-(0[1-9]|1[0-2])$"


class Problem(BaseModel):
    detail: str


class UsageRow(BaseModel):
    customer_id: str
    metric: str
    group: str | None
    period: str
    quantity: str  # exact decimal text


PROBLEMS = {
    401: {"model": Problem, "description": "no key, or a key unknown, revoked or expired"},
    403: {"model": Problem, "description": "a key without this scope or customer"},
    429: {"model": Problem, "description": "over the key's rate limit: see Retry-After"},
}
