"""Who an API key lets in: the secret must match, the key be live, the scope and customer
be the key's own."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest

from billing_dagster.api.keys import ApiKey, KeyRefused, authenticate, key_id_of

SECRET = "s" * 43
KEY = ApiKey(
    key_id="0123456789abcdef",
    name="checkout",
    scope="check",
    customer_id=None,
    expires=date(2026, 12, 31),
    secret_sha256=hashlib.sha256(SECRET.encode()).hexdigest(),
    created_at=datetime(2026, 11, 1, tzinfo=UTC),
    revoked_at=None,
)
PRESENTED = f"bk_0123456789abcdef_{SECRET}"
TODAY = date(2026, 12, 1)


def refusal(call) -> tuple[int, str]:
    with pytest.raises(KeyRefused) as refused:
        call()
    return refused.value.status, str(refused.value)


def test_the_right_secret_of_a_live_key_lets_in():
    assert authenticate(KEY, PRESENTED, TODAY) is KEY
    assert key_id_of(PRESENTED) == "0123456789abcdef"


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "0123456789abcdef",
        f"bk_0123456789abcdef_{'t' * 43}",  # another secret
        f"bk_fedcba9876543210_{SECRET}",  # the secret under another id
        f"bk_0123456789abcdef_{SECRET}x",
    ],
)
def test_anything_but_the_key_itself_is_unknown(presented):
    assert refusal(lambda: authenticate(KEY, presented, TODAY)) == (
        401,
        "unknown API key; send `Authorization: Bearer bk_...`",
    )


def test_a_revoked_or_expired_key_is_refused_with_the_reason():
    revoked = ApiKey(**{**KEY.__dict__, "revoked_at": datetime(2026, 11, 30, tzinfo=UTC)})
    assert refusal(lambda: authenticate(revoked, PRESENTED, TODAY)) == (
        401,
        "API key 0123456789abcdef was revoked",
    )
    assert authenticate(KEY, PRESENTED, date(2026, 12, 31)) is KEY  # its last day
    assert refusal(lambda: authenticate(KEY, PRESENTED, date(2027, 1, 1))) == (
        401,
        "API key 0123456789abcdef expired on 2026-12-31",
    )


def test_scopes_and_customers_are_the_keys_own():
    KEY.authorize("check", "acme")
    assert refusal(lambda: KEY.authorize("ingest")) == (
        403,
        "API key 0123456789abcdef has scope check, not ingest",
    )
    admin = ApiKey(**{**KEY.__dict__, "scope": "admin"})
    admin.authorize("ingest", "acme")
    bound = ApiKey(**{**KEY.__dict__, "customer_id": "acme"})
    bound.authorize("check", "acme")
    bound.authorize("check")  # about the key itself, no customer
    assert refusal(lambda: bound.authorize("check", "globex")) == (
        403,
        "API key 0123456789abcdef is bound to customer 'acme'",
    )
