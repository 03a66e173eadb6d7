"""Validation of a catalog file against CONTRACT.md §2, reporting every problem at once.

A catalog is accepted whole or not at all. Each problem is one line,
`<file>:<line>: <path in the YAML>: <what is wrong and what to do>`, so a user can fix all
of them in one pass. The result is the immutable `Catalog` of `model.py`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from billing_dagster.catalog.model import (
    CURRENCY_MINOR_UNITS,
    Catalog,
    Charge,
    CreditGrant,
    Customer,
    Discount,
    Entitlement,
    FixedFee,
    Metric,
    Overrides,
    Plan,
    PlanVersion,
    Price,
    Subscription,
    Tier,
)
from billing_dagster.catalog.yaml_source import (
    YamlDoc,
    YamlError,
    YamlFloat,
    format_path,
    load_yaml,
)

AGGREGATIONS = ("count", "sum", "count_unique", "max", "latest")
#: Fields each charge model requires, and those it may have.
MODEL_FIELDS = {
    "per_unit": ({"unit_price"}, set()),
    "graduated": ({"tiers"}, set()),
    "volume": ({"tiers"}, set()),
    "package": ({"package_size", "package_price"}, {"free_units"}),
}
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CatalogError(Exception):
    """The catalog is invalid; `problems` lists every problem, one printable line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def validate_catalog_file(file: str | Path) -> Catalog:
    try:
        doc = load_yaml(file)
    except YamlError as error:
        raise CatalogError(error.problems) from None
    return validate_catalog(doc)


def validate_catalog(doc: YamlDoc) -> Catalog:
    validator = _Validator(doc)
    catalog = validator.catalog()
    if validator.problems:
        raise CatalogError(validator.problems)
    return catalog


class _Validator:
    """Checks one document; each check reports its problems and returns None when invalid."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc
        self.problems: list[str] = []
        self.metrics: dict[str, Metric] = {}
        self.plans: dict[str, Plan] = {}
        #: Codes defined but invalid: references to them are not reported again as unknown.
        self.broken: set[str] = set()

    def error(self, path: tuple, message: str) -> None:
        self.problems.append(
            f"{self.doc.file}:{self.doc.line(path)}: {format_path(path)}: {message}"
        )

    # -- the document -----------------------------------------------------------------

    def catalog(self) -> Catalog:
        top = self.mapping((), self.doc.data, {"metrics", "plans", "customers"}, {"credit_grants"})
        if top is None:
            return Catalog((), (), ())
        for i, raw in enumerate(self.sequence(("metrics",), top.get("metrics"))):
            metric = self.metric(("metrics", i), raw)
            self.remember_broken(raw, "code", metric)
            if metric and self.unique(("metrics", i, "code"), metric.code, self.metrics, "metric"):
                self.metrics[metric.code] = metric
        for i, raw in enumerate(self.sequence(("plans",), top.get("plans"))):
            plan = self.plan(("plans", i), raw)
            self.remember_broken(raw, "code", plan)
            if plan and self.unique(("plans", i, "code"), plan.code, self.plans, "plan"):
                self.plans[plan.code] = plan
        customers: dict[str, Customer] = {}
        for i, raw in enumerate(self.sequence(("customers",), top.get("customers"))):
            customer = self.customer(("customers", i), raw)
            self.remember_broken(raw, "id", customer)
            if customer and self.unique(("customers", i, "id"), customer.id, customers, "customer"):
                customers[customer.id] = customer
        grants: dict[str, CreditGrant] = {}
        raw_grants = top.get("credit_grants") or []
        for i, raw in enumerate(self.sequence(("credit_grants",), raw_grants)):
            grant = self.credit_grant(("credit_grants", i), raw, customers)
            if grant and self.unique(("credit_grants", i, "id"), grant.id, grants, "credit grant"):
                grants[grant.id] = grant
        return Catalog(
            tuple(self.metrics.values()),
            tuple(self.plans.values()),
            tuple(customers.values()),
            tuple(grants.values()),
        )

    def remember_broken(self, raw: Any, key: str, parsed: Any) -> None:
        if parsed is None and isinstance(raw, dict) and isinstance(raw.get(key), str):
            self.broken.add(raw[key])

    # -- metrics ----------------------------------------------------------------------

    def metric(self, path: tuple, raw: Any) -> Metric | None:
        spec = self.mapping(
            path, raw, {"code", "event_name", "aggregation"}, {"property", "filters", "group_by"}
        )
        if spec is None:
            return None
        code = self.string((*path, "code"), spec.get("code"))
        event_name = self.string((*path, "event_name"), spec.get("event_name"))
        aggregation = self.choice((*path, "aggregation"), spec.get("aggregation"), AGGREGATIONS)
        prop = None
        if "property" in spec:
            prop = self.string((*path, "property"), spec["property"])
            if aggregation == "count":
                self.error((*path, "property"), "a count takes no property; remove it")
        elif aggregation and aggregation != "count":
            self.error(path, f"missing key 'property' (required by the {aggregation} aggregation)")
        group_by = (
            self.string((*path, "group_by"), spec["group_by"]) if "group_by" in spec else None
        )
        filters = self.filters((*path, "filters"), spec.get("filters", {}))
        if None in (code, event_name, aggregation, filters) or (
            prop is None and aggregation not in (None, "count")
        ):
            return None
        return Metric(code, event_name, aggregation, prop, filters, group_by)

    def filters(self, path: tuple, raw: Any) -> dict[str, tuple[str, ...]] | None:
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping of property name to a list of accepted values")
            return None
        result = {}
        for name, values in raw.items():
            if not isinstance(values, list) or not values:
                self.error((*path, name), "must be a non-empty list of accepted values")
                continue
            texts = [self.filter_value((*path, name, i), v) for i, v in enumerate(values)]
            if None not in texts:
                result[name] = tuple(texts)
        return result if len(result) == len(raw) else None

    def filter_value(self, path: tuple, value: Any) -> str | None:
        """Values compare as text, written as JSON writes them (200, true)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, YamlFloat):
            self.error(path, f'write the value in quotes ("{value}"): values compare as text')
            return None
        if isinstance(value, int | str):
            return str(value)
        self.error(path, "must be a string, a whole number or a bool")
        return None

    # -- plans ------------------------------------------------------------------------

    def plan(self, path: tuple, raw: Any) -> Plan | None:
        spec = self.mapping(path, raw, {"code", "name", "versions"}, set())
        if spec is None:
            return None
        code = self.string((*path, "code"), spec.get("code"))
        name = self.string((*path, "name"), spec.get("name"))
        versions: dict[int, PlanVersion] = {}
        raw_versions = self.sequence((*path, "versions"), spec.get("versions"), non_empty=True)
        for i, raw_version in enumerate(raw_versions):
            version = self.plan_version((*path, "versions", i), raw_version, code or "")
            if version and self.unique(
                (*path, "versions", i, "version"), version.version, versions, "version"
            ):
                versions[version.version] = version
        if code is None or name is None or len(versions) != len(raw_versions) or not versions:
            return None
        return Plan(code, name, tuple(sorted(versions.values(), key=lambda v: v.version)))

    def plan_version(self, path: tuple, raw: Any, plan: str) -> PlanVersion | None:
        spec = self.mapping(
            path,
            raw,
            {"version", "effective_from", "currency"},
            {"fixed_fees", "minimum_amount", "charges", "entitlements"},
        )
        if spec is None:
            return None
        number = self.integer((*path, "version"), spec.get("version"), minimum=1)
        effective_from = self.date((*path, "effective_from"), spec.get("effective_from"))
        currency = self.choice(
            (*path, "currency"), spec.get("currency"), tuple(CURRENCY_MINOR_UNITS)
        )
        fees = self.fixed_fees((*path, "fixed_fees"), spec.get("fixed_fees", []))
        minimum = (
            self.money((*path, "minimum_amount"), spec["minimum_amount"])
            if "minimum_amount" in spec
            else None
        )
        charges = self.charges((*path, "charges"), spec.get("charges", []))
        entitlements = self.entitlements((*path, "entitlements"), spec.get("entitlements", []))
        parts = (number, effective_from, currency, fees, charges, entitlements)
        if None in parts or ("minimum_amount" in spec and minimum is None):
            return None
        return PlanVersion(
            plan, number, effective_from, currency, fees, minimum, charges, entitlements
        )

    def fixed_fees(self, path: tuple, raw: Any) -> tuple[FixedFee, ...] | None:
        fees: dict[str, FixedFee] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            spec = self.mapping((*path, i), item, {"code", "amount"}, set())
            if spec is None:
                continue
            code = self.string((*path, i, "code"), spec.get("code"))
            amount = self.money((*path, i, "amount"), spec.get("amount"))
            if code and amount is not None and self.unique((*path, i, "code"), code, fees, "fee"):
                fees[code] = FixedFee(code, amount)
        return tuple(fees.values()) if len(fees) == len(items) else None

    def charges(self, path: tuple, raw: Any) -> tuple[Charge, ...] | None:
        charges: dict[str, Charge] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            charge = self.charge((*path, i), item)
            if charge and self.unique((*path, i, "metric"), charge.metric, charges, "charge for"):
                charges[charge.metric] = charge
        return tuple(charges.values()) if len(charges) == len(items) else None

    def charge(self, path: tuple, raw: Any) -> Charge | None:
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping with metric, model and its prices")
            return None
        metric_code = self.string((*path, "metric"), raw.get("metric"))
        metric = self.metrics.get(metric_code) if metric_code else None
        if metric_code and metric is None and metric_code not in self.broken:
            self.error(
                (*path, "metric"), f'unknown metric "{metric_code}"; define it under metrics'
            )
        price = self.price(
            path,
            {k: v for k, v in raw.items() if k not in ("metric", "group_prices")},
            context_keys={"metric", "group_prices"},
        )
        group_prices: dict[str, Price] = {}
        if "group_prices" in raw:
            if metric and metric.group_by is None:
                self.error(
                    (*path, "group_prices"),
                    f'metric "{metric.code}" has no group_by, so it has no groups to price',
                )
            elif not isinstance(raw["group_prices"], dict):
                self.error((*path, "group_prices"), "must be a mapping of group value to a price")
            else:
                for value, spec in raw["group_prices"].items():
                    group_price = self.price((*path, "group_prices", str(value)), spec)
                    if group_price is None:
                        return None
                    group_prices[str(value)] = group_price
        if metric is None or price is None:
            return None
        return Charge(metric.code, price, group_prices)

    def price(
        self, path: tuple, spec: Any, context_keys: frozenset | set = frozenset()
    ) -> Price | None:
        """One charge model and exactly its parameters (CONTRACT.md §3, charge models)."""
        if not isinstance(spec, dict):
            self.error(path, "must be a mapping with a model and its prices")
            return None
        model = spec.get("model")
        if model is None:
            self.error(path, f"missing key 'model' (one of {', '.join(MODEL_FIELDS)})")
            return None
        model = self.choice((*path, "model"), model, tuple(MODEL_FIELDS))
        if model is None:
            return None
        required, optional = MODEL_FIELDS[model]
        all_fields = set().union(*(r | o for r, o in MODEL_FIELDS.values()))
        for key in spec:
            if key == "model" or key in required | optional or key in context_keys:
                continue
            reason = (
                f"does not apply to the {model} model"
                if key in all_fields
                else f"unknown key '{key}'"
            )
            self.error((*path, key), reason)
        for key in sorted(required - set(spec)):
            self.error(path, f"missing key '{key}' (required by the {model} model)")
        if required - set(spec) or set(spec) - required - optional - {"model"} - context_keys:
            return None
        if model == "per_unit":
            unit_price = self.money((*path, "unit_price"), spec["unit_price"])
            return None if unit_price is None else Price(model, unit_price=unit_price)
        if model == "package":
            size = self.quantity((*path, "package_size"), spec["package_size"], positive=True)
            package_price = self.money((*path, "package_price"), spec["package_price"])
            free = self.quantity((*path, "free_units"), spec.get("free_units", 0))
            if None in (size, package_price, free):
                return None
            return Price(model, package_size=size, package_price=package_price, free_units=free)
        tiers = self.tiers((*path, "tiers"), spec["tiers"])
        return None if tiers is None else Price(model, tiers=tiers)

    def tiers(self, path: tuple, raw: Any) -> tuple[Tier, ...] | None:
        items = self.sequence(path, raw, non_empty=True)
        tiers: list[Tier] = []
        previous = Decimal(0)
        for i, item in enumerate(items):
            spec = self.mapping((*path, i), item, {"up_to", "unit_price"}, {"flat_fee"})
            if spec is None:
                return None
            last = i == len(items) - 1
            up_to = spec.get("up_to")
            if up_to is None and not last:
                self.error((*path, i, "up_to"), "only the last tier may be unbounded (up_to: null)")
                return None
            if up_to is not None:
                up_to = self.quantity((*path, i, "up_to"), up_to, positive=True)
                if up_to is None:
                    return None
                if last:
                    self.error((*path, i, "up_to"), "the last tier must have up_to: null")
                    return None
                if up_to <= previous:
                    self.error(
                        (*path, i, "up_to"),
                        f"tiers out of order: {up_to} must be greater than the previous "
                        f"tier's up_to {previous}",
                    )
                    return None
                previous = up_to
            unit_price = self.money((*path, i, "unit_price"), spec.get("unit_price"))
            flat_fee = self.money((*path, i, "flat_fee"), spec.get("flat_fee", "0"))
            if unit_price is None or flat_fee is None:
                return None
            tiers.append(Tier(up_to, unit_price, flat_fee))
        return tuple(tiers) if tiers else None

    def entitlements(self, path: tuple, raw: Any) -> tuple[Entitlement, ...] | None:
        result = []
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            spec = self.mapping((*path, i), item, {"feature"}, {"limit", "enforcement", "enabled"})
            if spec is None:
                continue
            feature = self.string((*path, i, "feature"), spec.get("feature"))
            if "enabled" in spec:
                if {"limit", "enforcement"} & set(spec):
                    self.error((*path, i), "use either enabled or limit with enforcement, not both")
                elif not isinstance(spec["enabled"], bool):
                    self.error((*path, i, "enabled"), "must be true or false")
                elif feature:
                    result.append(Entitlement(feature, enabled=spec["enabled"]))
                continue
            if {"limit", "enforcement"} - set(spec):
                self.error((*path, i), "needs either enabled: true|false or limit with enforcement")
                continue
            limit = self.quantity((*path, i, "limit"), spec["limit"])
            enforcement = self.choice(
                (*path, i, "enforcement"), spec["enforcement"], ("soft", "hard")
            )
            if feature and limit is not None and enforcement:
                result.append(Entitlement(feature, limit=limit, enforcement=enforcement))
        return tuple(result) if len(result) == len(items) else None

    # -- customers, subscriptions, grants -----------------------------------------------

    def customer(self, path: tuple, raw: Any) -> Customer | None:
        spec = self.mapping(path, raw, {"id", "name"}, {"tax_rate", "subscriptions"})
        if spec is None:
            return None
        customer_id = self.string((*path, "id"), spec.get("id"))
        name = self.string((*path, "name"), spec.get("name"))
        tax_rate = self.money((*path, "tax_rate"), spec.get("tax_rate", "0"), maximum=Decimal(1))
        items = self.sequence((*path, "subscriptions"), spec.get("subscriptions", []))
        subscriptions = [
            self.subscription((*path, "subscriptions", i), item, customer_id or "")
            for i, item in enumerate(items)
        ]
        valid = [s for s in subscriptions if s is not None]
        self.check_overlaps((*path, "subscriptions"), subscriptions)
        if customer_id is None or name is None or tax_rate is None or len(valid) != len(items):
            return None
        return Customer(customer_id, name, tax_rate, tuple(valid))

    def subscription(self, path: tuple, raw: Any, customer: str) -> Subscription | None:
        spec = self.mapping(
            path, raw, {"plan", "start"}, {"version", "end", "overrides", "discounts"}
        )
        if spec is None:
            return None
        start = self.date((*path, "start"), spec.get("start"))
        end = self.date((*path, "end"), spec["end"]) if spec.get("end") is not None else None
        if start and end and end <= start:
            self.error(
                (*path, "end"), f"must be after start ({start.isoformat()}); end is exclusive"
            )
            return None
        plan_code = self.string((*path, "plan"), spec.get("plan"))
        plan = self.plans.get(plan_code) if plan_code else None
        if plan_code and plan is None and plan_code not in self.broken:
            self.error((*path, "plan"), f'unknown plan "{plan_code}"')
        if plan is None or start is None or (spec.get("end") is not None and end is None):
            return None
        version = self.resolve_version(path, spec, plan, start)
        if version is None:
            return None
        overrides = self.overrides((*path, "overrides"), spec.get("overrides", {}), version)
        discounts = self.discounts((*path, "discounts"), spec.get("discounts", []))
        if overrides is None or discounts is None:
            return None
        return Subscription(
            f"{customer}:{plan.code}:{start.isoformat()}",
            customer,
            plan.code,
            version.version,
            start,
            end,
            overrides,
            discounts,
        )

    def resolve_version(
        self, path: tuple, spec: dict, plan: Plan, start: date
    ) -> PlanVersion | None:
        """The version given, else the latest in effect on the start date (CONTRACT.md §2)."""
        if "version" in spec:
            number = self.integer((*path, "version"), spec["version"], minimum=1)
            match = [v for v in plan.versions if v.version == number]
            if number is not None and not match:
                self.error((*path, "version"), f'plan "{plan.code}" has no version {number}')
            return match[0] if match else None
        in_effect = [v for v in plan.versions if v.effective_from <= start]
        if not in_effect:
            first = min(v.effective_from for v in plan.versions)
            self.error(
                (*path, "start"),
                f'no version of plan "{plan.code}" is in effect on {start.isoformat()} '
                f"(the first starts {first.isoformat()}); name a version or start later",
            )
            return None
        return max(in_effect, key=lambda v: (v.effective_from, v.version))

    def overrides(self, path: tuple, raw: Any, version: PlanVersion) -> Overrides | None:
        spec = self.mapping(path, raw, set(), {"charges", "fixed_fees", "minimum_amount"})
        if spec is None:
            return None
        charged = {c.metric for c in version.charges}
        fee_codes = {f.code for f in version.fixed_fees}
        where = f"plan {version.plan} version {version.version}"
        prices: dict[str, Price] = {}
        raw_charges = spec.get("charges", {})
        if not isinstance(raw_charges, dict):
            self.error((*path, "charges"), "must be a mapping of metric to a price")
            raw_charges = {}
        for metric, price_spec in raw_charges.items():
            if metric not in charged:
                self.error(
                    (*path, "charges", metric), f'metric "{metric}" is not charged by {where}'
                )
                continue
            price = self.price((*path, "charges", metric), price_spec)
            if price:
                prices[metric] = price
        fees: dict[str, Decimal] = {}
        raw_fees = spec.get("fixed_fees", {})
        if not isinstance(raw_fees, dict):
            self.error((*path, "fixed_fees"), "must be a mapping of fee code to {amount: ...}")
            raw_fees = {}
        for code, fee_spec in raw_fees.items():
            if code not in fee_codes:
                self.error(
                    (*path, "fixed_fees", code), f'fee "{code}" is not a fixed fee of {where}'
                )
                continue
            fee = self.mapping((*path, "fixed_fees", code), fee_spec, {"amount"}, set())
            amount = (
                self.money((*path, "fixed_fees", code, "amount"), fee["amount"]) if fee else None
            )
            if amount is not None:
                fees[code] = amount
        minimum = (
            self.money((*path, "minimum_amount"), spec["minimum_amount"])
            if "minimum_amount" in spec
            else None
        )
        expected = len(raw_charges) + len(raw_fees)
        if len(prices) + len(fees) != expected or ("minimum_amount" in spec and minimum is None):
            return None
        return Overrides(prices, fees, minimum)

    def discounts(self, path: tuple, raw: Any) -> tuple[Discount, ...] | None:
        result = []
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            kind = item.get("type") if isinstance(item, dict) else None
            field = "value" if kind == "percentage" else "amount"
            spec = self.mapping((*path, i), item, {"type", field}, {"months"})
            if spec is None:
                continue
            kind = self.choice((*path, i, "type"), kind, ("percentage", "fixed"))
            maximum = Decimal(100) if kind == "percentage" else None
            value = self.money((*path, i, field), spec.get(field), maximum=maximum)
            months = (
                self.integer((*path, i, "months"), spec["months"], minimum=1)
                if spec.get("months") is not None
                else None
            )
            if kind and value is not None and (spec.get("months") is None or months):
                result.append(Discount(kind, value, months))
        return tuple(result) if len(result) == len(items) else None

    def check_overlaps(self, path: tuple, subscriptions: list[Subscription | None]) -> None:
        """At most one active subscription at any instant: [start, end) windows are disjoint."""
        for later, b in enumerate(subscriptions):
            for earlier, a in enumerate(subscriptions[:later]):
                if a is None or b is None:
                    continue
                if a.start < (b.end or date.max) and b.start < (a.end or date.max):
                    self.error(
                        (*path, later),
                        f"overlaps subscriptions[{earlier}] ({a.plan} from "
                        f"{a.start.isoformat()}); a customer has at most one active "
                        f"subscription at a time, so end one where the next starts",
                    )

    def credit_grant(self, path: tuple, raw: Any, customers: dict) -> CreditGrant | None:
        spec = self.mapping(
            path, raw, {"id", "customer", "amount", "effective"}, {"expires", "priority"}
        )
        if spec is None:
            return None
        grant_id = self.string((*path, "id"), spec.get("id"))
        customer = self.string((*path, "customer"), spec.get("customer"))
        if customer and customer not in customers:
            if customer not in self.broken:
                self.error((*path, "customer"), f'unknown customer "{customer}"')
            customer = None
        amount = self.money((*path, "amount"), spec.get("amount"), positive=True)
        effective = self.date((*path, "effective"), spec.get("effective"))
        expires = self.date((*path, "expires"), spec["expires"]) if spec.get("expires") else None
        if effective and expires and expires < effective:
            self.error(
                (*path, "expires"), f"must not be before effective ({effective.isoformat()})"
            )
            return None
        priority = self.integer((*path, "priority"), spec.get("priority", 0), minimum=None)
        if None in (grant_id, customer, amount, effective, priority) or (
            spec.get("expires") and expires is None
        ):
            return None
        return CreditGrant(grant_id, customer, amount, effective, expires, priority)

    # -- scalar and shape checks ---------------------------------------------------------

    def mapping(self, path: tuple, raw: Any, required: set, optional: set | None) -> dict | None:
        """A mapping with all `required` keys and no key outside `required | optional`
        (`optional=None`: any key)."""
        if not isinstance(raw, dict):
            self.error(
                path,
                "must be a mapping" + (f" with {', '.join(sorted(required))}" if required else ""),
            )
            return None
        ok = True
        for key in sorted(required - set(raw)):
            self.error(path, f"missing key '{key}'")
            ok = False
        if optional is not None:
            for key in raw:
                if key not in required | optional:
                    self.error((*path, key), f"unknown key '{key}'")
                    ok = False
        return raw if ok else None

    def sequence(self, path: tuple, raw: Any, non_empty: bool = False) -> list:
        if not isinstance(raw, list):
            self.error(path, "must be a list")
            return []
        if non_empty and not raw:
            self.error(path, "must not be empty")
        return raw

    def unique(self, path: tuple, key: Any, seen: dict, what: str) -> bool:
        if key in seen:
            self.error(path, f"duplicate {what} {key!r}")
            return False
        return True

    def string(self, path: tuple, raw: Any) -> str | None:
        if not isinstance(raw, str) or isinstance(raw, YamlFloat) or not raw.strip():
            self.error(path, "must be a non-empty string")
            return None
        return raw

    def choice(self, path: tuple, raw: Any, choices: tuple[str, ...]) -> str | None:
        if raw not in choices or isinstance(raw, YamlFloat):
            self.error(path, f"must be one of {', '.join(choices)}, got {raw!r}")
            return None
        return raw

    def integer(self, path: tuple, raw: Any, minimum: int | None) -> int | None:
        if not isinstance(raw, int) or isinstance(raw, bool):
            self.error(path, f"must be a whole number, got {raw!r}")
            return None
        if minimum is not None and raw < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return raw

    def date(self, path: tuple, raw: Any) -> date | None:
        if isinstance(raw, date) and type(raw) is date:
            return raw
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        self.error(path, f"must be a date written YYYY-MM-DD (UTC), got {raw!r}")
        return None

    def money(
        self, path: tuple, raw: Any, positive: bool = False, maximum: Decimal | None = None
    ) -> Decimal | None:
        """An amount, price or rate: a decimal string, never a float (CONTRACT.md §2)."""
        if isinstance(raw, YamlFloat):
            self.error(path, f'must be a decimal string such as "{raw}", not the float {raw}')
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            self.error(path, f'must be a decimal string such as "12.50", got {raw!r}')
            return None
        if isinstance(raw, int):
            self.error(path, f'must be a decimal string: write "{raw}" in quotes')
            return None
        if not _DECIMAL.fullmatch(raw):
            self.error(path, f'must be a decimal string such as "12.50", got "{raw}"')
            return None
        return self.bounded(path, Decimal(raw), positive, maximum)

    def quantity(self, path: tuple, raw: Any, positive: bool = False) -> Decimal | None:
        """A number of units: a whole number or a decimal string, never a float."""
        if isinstance(raw, YamlFloat):
            self.error(
                path,
                f'must be a whole number or a decimal string such as "{raw}", not the float {raw}',
            )
            return None
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, str) and _DECIMAL.fullmatch(raw))
        ):
            self.error(path, f"must be a whole number or a decimal string, got {raw!r}")
            return None
        return self.bounded(path, Decimal(raw), positive, None)

    def bounded(
        self, path: tuple, value: Decimal, positive: bool, maximum: Decimal | None
    ) -> Decimal | None:
        if value < 0:
            self.error(path, f"must not be negative, got {value}")
            return None
        if positive and value == 0:
            self.error(path, "must be greater than 0")
            return None
        if maximum is not None and value > maximum:
            self.error(path, f"must be at most {maximum}, got {value}")
            return None
        return value
