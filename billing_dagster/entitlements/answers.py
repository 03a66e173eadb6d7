"""The answer to "may this customer use this feature now?", from its usage: a pure
function, so the API and `billing entitlements` answer alike. Decimals are strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from billing_dagster.catalog.model import QuotaGrant
from billing_dagster.entitlements.exact import Feature
from billing_dagster.formatting import decimal_text
from billing_dagster.invoicing.assemble import grant_order


def answer(
    customer_id: str,
    feature_code: str,
    feature: Feature | None,
    subscribed: bool,
    usage: Decimal,
    requested: Decimal,
    window: tuple[datetime, datetime] | None,
    grants: list[QuotaGrant],
    exact_through: datetime | None,
    as_of: datetime,
    capped: bool = False,
    blocked: str | None = None,
) -> dict:
    """`capped`: the customer reached a spending cap this period, which denies every
    hard-limited feature (`reason: spending_cap`) until the period ends or the cap rises.
    `blocked`: the reason its plan blocks it now (`blocked_dispute_lost`,
    `blocked_past_due`: entitlements/blocks.py), which denies them too, and is told first."""
    document = {
        "customer_id": customer_id,
        "feature": feature_code,
        "kind": feature.kind if feature else None,
        "has_access": False,
        "reason": "not_in_plan" if subscribed else "no_subscription",
        "enforcement": None,
        "limit": None,
        "usage": None,
        "requested": decimal_text(requested),
        "remaining": None,
        "overage": None,
        "period": None,
        "period_start": None,
        "period_end": None,
        "grants": [],
        "exact_through": exact_through.isoformat() if exact_through else None,
        "as_of": as_of.isoformat(),
        "config": None,
    }
    if feature is None:
        return document
    if feature.kind == "boolean":
        document["has_access"] = bool(feature.enabled)
        document["reason"] = "ok" if feature.enabled else "not_in_plan"
        return document
    if feature.kind == "static":
        document.update(has_access=True, reason="ok", config=feature.config)
        return document
    start, end = window
    document.update(
        enforcement=feature.enforcement,
        usage=decimal_text(usage),
        period=feature.period,
        period_start=start.isoformat(),
        period_end=end.isoformat(),
        has_access=True,
        reason="ok",
        overage="0",
    )
    _against_limit(document, feature, usage, requested, granted(grants, start))
    if feature.enforcement == "hard" and (blocked or capped):
        document.update(has_access=False, reason=blocked or "spending_cap")
    return document


def _against_limit(
    document: dict,
    feature: Feature,
    usage: Decimal,
    requested: Decimal,
    in_window: list[QuotaGrant],
) -> None:
    """Limit (with the window's quota grants, burnt in order), remaining and overage, and
    access by the enforcement; an unlimited feature keeps `remaining: null`, never 0."""
    if feature.limit is None:
        return
    limit = feature.limit + sum((g.units for g in in_window), Decimal(0))
    beyond_plan = max(Decimal(0), usage - feature.limit)
    for grant in in_window:
        burnt = min(grant.units, beyond_plan)
        beyond_plan -= burnt
        document["grants"].append(
            {"id": grant.id, "units": decimal_text(grant.units), "burnt": decimal_text(burnt)}
        )
    over = usage + requested > limit
    document.update(
        limit=decimal_text(limit),
        remaining=decimal_text(max(Decimal(0), limit - usage)),
        overage=decimal_text(max(Decimal(0), usage + requested - limit)),
        reason="limit_reached" if over else "ok",
        has_access=not over or feature.enforcement == "soft",
    )


def granted(grants: list[QuotaGrant], start: datetime) -> list[QuotaGrant]:
    """The quota grants that add to the limit of a window starting at `start`, in the
    order they are burnt."""
    if not grants:
        return []
    day = start.date()
    in_window = (
        g for g in grants if g.effective <= day and (g.expires is None or day <= g.expires)
    )
    return sorted(in_window, key=grant_order)
