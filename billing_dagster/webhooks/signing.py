"""Webhook signatures in Stripe's scheme: header `Billing-Signature: t=<unix seconds>,
v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`. A receiver recomputes
it, compares in constant time, and refuses timestamps older than its tolerance (replays).
docs/webhooks.md shows the receiver's side."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Billing-Signature"
#: A receiver should refuse signatures older than this (seconds).
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether `header` signs `body` with `secret`, made at most `tolerance_s` ago."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(
        expected, parts.get("v1", "")
    )
