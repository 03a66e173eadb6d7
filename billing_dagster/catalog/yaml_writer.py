"""A catalog as the YAML a user writes (CONTRACT.md §2), the validator's inverse: after
`billing migrate`, the catalog in force is written back to the user's file, so the file is
not left behind the warehouse. Every text written is read back and validated, and must be
the same catalog, or nothing is written."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billing_dagster.catalog.model import (
    AlertRule,
    Catalog,
    Charge,
    CreditGrant,
    Customer,
    Discount,
    Entitlement,
    Metric,
    Partner,
    PlanVersion,
    Price,
    QuotaGrant,
    Subscription,
    Threshold,
)
from billing_dagster.catalog.serialize import canonical_json


class UnwritableCatalog(Exception):
    """The YAML written would not read back as the same catalog; nothing was written."""


def write_catalog_yaml(catalog: Catalog, file: Path, header: str, default_gateway: str) -> None:
    """Write `catalog` to `file` (a comment `header` first), all or nothing; read back as
    `catalog apply` reads it (`default_gateway`: BILLING_GATEWAY)."""
    from billing_dagster.catalog.validate import CatalogError, validate_catalog_file

    text = header + catalog_yaml(catalog)
    partial = file.with_name(f".{file.name}.partial")
    partial.write_text(text)
    try:
        read_back = validate_catalog_file(partial, default_gateway)
    except CatalogError as error:
        partial.unlink()
        raise UnwritableCatalog("; ".join(error.problems)) from None
    if canonical_json(read_back) != canonical_json(catalog):
        partial.unlink()
        raise UnwritableCatalog("the YAML does not read back as the same catalog")
    os.replace(partial, file)


def catalog_yaml(catalog: Catalog) -> str:
    document: dict[str, Any] = {
        "metrics": [_metric(m) for m in catalog.metrics],
        "plans": [
            _set({"code": p.code, "name": p.name, "product": p.product})
            | {"versions": [_version(v) for v in p.versions]}
            for p in catalog.plans
        ],
        "customers": [_customer(c) for c in catalog.customers],
    }
    for name, part in (
        ("credit_grants", [_credit_grant(g) for g in catalog.credit_grants]),
        ("quota_grants", [_quota_grant(g) for g in catalog.quota_grants]),
        ("alerts", [_alert(a) for a in catalog.alerts]),
        ("partners", [_partner(p) for p in catalog.partners]),
        ("pii_properties", list(catalog.pii_properties)),
    ):
        if part:
            document[name] = part
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _money(value: Decimal) -> str:
    return format(value, "f")


def _quantity(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else format(value, "f")


def _set(fields_: dict[str, Any]) -> dict[str, Any]:
    """The fields that are given (None and empty left out, as the user leaves them out)."""
    return {k: v for k, v in fields_.items() if v is not None and v != {} and v != []}


def _metric(m: Metric) -> dict:
    filters = {key: list(values) for key, values in m.filters.items()}
    return _set(
        {
            "code": m.code,
            "event_name": m.event_name,
            "aggregation": m.aggregation,
            "property": m.property,
            "filters": filters,
            "group_by": m.group_by,
            "unit": m.unit,
            "percentile": None if m.percentile is None else _quantity(m.percentile),
            "bucket": m.bucket,
        }
    )


def _price(p: Price) -> dict:
    if p.model == "per_unit":
        return {"model": p.model, "unit_price": _money(p.unit_price)}
    if p.model == "package":
        return {
            "model": p.model,
            "package_size": _quantity(p.package_size),
            "package_price": _money(p.package_price),
            "free_units": _quantity(p.free_units),
        }
    tiers = [
        {
            "up_to": None if t.up_to is None else _quantity(t.up_to),
            "unit_price": _money(t.unit_price),
            **({"flat_fee": _money(t.flat_fee)} if t.flat_fee else {}),
        }
        for t in p.tiers
    ]
    return {"model": p.model, "tiers": tiers}


def _charge(c: Charge) -> dict:
    group_prices = {value: _price(price) for value, price in c.group_prices.items()}
    return _set({"metric": c.metric, **_price(c.price), "group_prices": group_prices})


def _entitlement(e: Entitlement) -> dict:
    if e.kind == "boolean":
        return {"feature": e.feature, "enabled": e.enabled}
    if e.kind == "static":
        return {"feature": e.feature, "config": e.config}
    return {
        "feature": e.feature,
        **({"metric": e.metric} if e.metric else {}),
        "limit": None if e.limit is None else _quantity(e.limit),
        "enforcement": e.enforcement,
        **({"period": e.period} if e.period != "billing_period" else {}),
    }


def _version(v: PlanVersion) -> dict:
    return _set(
        {
            "version": v.version,
            "effective_from": v.effective_from,
            "currency": v.currency,
            "fixed_fees": [{"code": f.code, "amount": _money(f.amount)} for f in v.fixed_fees],
            "minimum_amount": None if v.minimum_amount is None else _money(v.minimum_amount),
            "charges": [_charge(c) for c in v.charges],
            "entitlements": [_entitlement(e) for e in v.entitlements],
            "block_on": list(v.block_on),
            "invoice_at_amount": None
            if v.invoice_at_amount is None
            else _money(v.invoice_at_amount),
        }
    )


def _discount(d: Discount) -> dict:
    value = {"value": _money(d.value)} if d.type == "percentage" else {"amount": _money(d.value)}
    return _set({"type": d.type, **value, "months": d.months})


def _subscription(s: Subscription) -> dict:
    overrides = s.overrides
    written_overrides = _set(
        {
            "charges": {metric: _price(price) for metric, price in overrides.charges.items()},
            "fixed_fees": {code: {"amount": _money(a)} for code, a in overrides.fixed_fees.items()},
            "minimum_amount": None
            if overrides.minimum_amount is None
            else _money(overrides.minimum_amount),
            "entitlements": [_entitlement(e) for e in overrides.entitlements],
        }
    )
    return _set(
        {
            "plan": s.plan,
            "version": s.version,
            "start": s.start,
            "end": s.end,
            "overrides": written_overrides,
            "discounts": [_discount(d) for d in s.discounts],
        }
    )


def _customer(c: Customer) -> dict:
    return _set(
        {
            "id": c.id,
            "name": c.name,
            "tax_rate": _money(c.tax_rate),
            "gateway": c.gateway,
            "timezone": None if c.timezone == "UTC" else c.timezone,
            "subscriptions": [_subscription(s) for s in c.subscriptions],
        }
    )


def _grant(grant: CreditGrant | QuotaGrant, amounts: dict[str, Any]) -> dict:
    return {
        "id": grant.id,
        "customer": grant.customer,
        **amounts,
        "effective": grant.effective,
        "expires": grant.expires,
        "priority": grant.priority,
    }


def _credit_grant(g: CreditGrant) -> dict:
    return _grant(g, {"amount": _money(g.amount)}) | _set({"product": g.product})


def _quota_grant(g: QuotaGrant) -> dict:
    return _grant(g, {"feature": g.feature, "units": _quantity(g.units)})


def _threshold(t: Threshold, target: str) -> str | int:
    if t.percent:
        return f"{_money(t.value)}%"
    return _money(t.value) if target == "amount" else _quantity(t.value)


def _alert(a: AlertRule) -> dict:
    rule: dict[str, Any] = {"id": a.id, "customer": a.customer, a.target: a.code}
    rule["thresholds"] = [_threshold(t, a.target) for t in a.thresholds]
    if a.every is not None:
        rule["every"] = _threshold(a.every, a.target)
    if a.spending_cap:
        rule["spending_cap"] = True
    return rule


def _partner(p: Partner) -> dict:
    customers = [_set({"id": c.customer, "from": c.start, "to": c.end}) for c in p.customers]
    return {
        "id": p.id,
        "name": p.name,
        "share": _money(p.share),
        "basis": p.basis,
        "customers": customers,
    }
