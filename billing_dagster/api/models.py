"""What every route of the API may answer besides its own model."""

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str


PROBLEMS = {
    401: {"model": Problem, "description": "no key, or a key unknown, revoked or expired"},
    403: {"model": Problem, "description": "a key without this scope or customer"},
    429: {"model": Problem, "description": "over the key's rate limit: see Retry-After"},
}
