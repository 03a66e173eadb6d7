"""Models several routers share: the problems every route may answer, usage rows, and
the billing period of a query."""

from pydantic import BaseModel

#: A billing period in a query: YYYY-MM.
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


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
