"""Validation of a catalog file against CONTRACT.md §2, reporting every problem at once.

A catalog is accepted whole or not at all. Each problem is one line,
`<file>:<line>: <path in the YAML>: <what is wrong and what to do>`, listed in the order of
the file, so a user can fix all of them in one pass. The result is the immutable `Catalog`
of `model.py`.

Checks keep going after a problem: a part that is invalid becomes None, and whatever refers
to it (a charge on a broken metric, a grant of a broken customer) is not reported again.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing_dagster.catalog.gc_pause import gc_paused
from billing_dagster.catalog.model import (
    BLOCK_CONDITIONS,
    CURRENCY_MINOR_UNITS,
    AlertRule,
    Catalog,
    Charge,
    CreditGrant,
    Customer,
    Discount,
    Entitlement,
    FixedFee,
    Metric,
    Overrides,
    Partner,
    PartnerCustomer,
    Plan,
    PlanVersion,
    Price,
    QuotaGrant,
    Subscription,
    Threshold,
    Tier,
    effective_entitlements,
    subscription_id,
)
from billing_dagster.catalog.yaml_source import (
    Problem,
    YamlDoc,
    YamlError,
    YamlFloat,
    YamlPath,
    load_yaml,
)
from billing_dagster.gateways.config import CURRENCIES, GATEWAYS

AGGREGATIONS = ("count", "sum", "count_unique", "max", "latest", "time_weighted_sum", "percentile")
TIME_UNITS = ("hour", "day")
#: The keys only one aggregation takes: key -> (that aggregation, what the key holds).
AGGREGATION_OPTIONS = {
    "unit": ("time_weighted_sum", "hour or day"),
    "percentile": ("percentile", "a number above 0 and at most 100"),
    "bucket": ("percentile", "minutes or hours dividing a day, such as 5m"),
}
ENTITLEMENT_PERIODS = ("billing_period", "day", "hour")
#: Fields each charge model requires, and those it may have.
MODEL_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "per_unit": ({"unit_price"}, set()),
    "graduated": ({"tiers"}, set()),
    "volume": ({"tiers"}, set()),
    "package": ({"package_size", "package_price"}, {"free_units"}),
}
#: The field holding each discount type's number.
DISCOUNT_FIELDS = {"percentage": "value", "fixed": "amount"}
PRICE_FIELDS = set().union(*(required | optional for required, optional in MODEL_FIELDS.values()))
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BUCKET = re.compile(r"([1-9][0-9]{0,3})([mh])")


class _Missing:
    """A required key that is absent: already reported by `mapping`, so checks stay quiet."""


_MISSING: Any = _Missing()


#: (integer digits, fractional digits) of the warehouse's columns (warehouse/schema.py):
#: amounts and prices are Decimal(38, 20), quantities Decimal(38, 12).
MONEY_DIGITS = (18, 20)
QUANTITY_DIGITS = (26, 12)
_INT32_LIMIT = 2**31


class CatalogError(Exception):
    """The catalog is invalid; `problems` lists every problem, one printable line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@gc_paused()
def validate_catalog_file(file: str | Path, default_gateway: str = "file") -> Catalog:
    """Read and validate `file`; raises `CatalogError` listing every problem. A customer
    without a `gateway` is synced to `default_gateway` (BILLING_GATEWAY)."""
    try:
        doc = load_yaml(file)
    except YamlError as error:
        raise CatalogError(error.problems) from None
    return validate_catalog(doc, default_gateway)


def validate_catalog(doc: YamlDoc, default_gateway: str = "file") -> Catalog:
    """Validate a loaded document; raises `CatalogError` listing every problem."""
    validator = _Validator(doc, default_gateway)
    catalog = validator.catalog()
    if problems := doc.problems + validator.problems:
        in_file_order = sorted(dict.fromkeys(problems), key=lambda problem: problem[0])
        raise CatalogError([text for _, text in in_file_order])
    return catalog


class _Validator:
    """Checks one document; each check reports its problems and returns None when invalid."""

    def __init__(self, doc: YamlDoc, default_gateway: str):
        self.doc, self.default_gateway = doc, default_gateway
        self.problems: list[Problem] = []
        self.metrics: dict[str, Metric] = {}
        self.plans: dict[str, Plan] = {}
        #: Per section, the codes defined but invalid, or None when the section itself is
        #: unusable: references to them have been reported already, not as unknown.
        self.broken: dict[str, set[str] | None] = {
            "metrics": set(),
            "plans": set(),
            "customers": set(),
        }

    def error(self, path: YamlPath, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    # -- the document -----------------------------------------------------------------

    def catalog(self) -> Catalog:
        top = self.mapping(
            (),
            self.doc.data,
            {"metrics", "plans", "customers"},
            {"credit_grants", "quota_grants", "alerts", "partners", "pii_properties"},
        )
        if top is None:
            return Catalog((), (), ())
        metric_paths: dict[str, YamlPath] = {}
        for i, raw in enumerate(self.section(top, "metrics")):
            metric = self.metric(("metrics", i), raw)
            self.remember_broken("metrics", raw, "code", metric)
            if metric and self.unique(("metrics", i, "code"), metric.code, self.metrics, "metric"):
                self.metrics[metric.code] = metric
                metric_paths[metric.code] = ("metrics", i)
        for i, raw in enumerate(self.section(top, "plans")):
            plan = self.plan(("plans", i), raw)
            self.remember_broken("plans", raw, "code", plan)
            if plan and self.unique(("plans", i, "code"), plan.code, self.plans, "plan"):
                self.plans[plan.code] = plan
        customers: dict[str, Customer] = {}
        for i, raw in enumerate(self.section(top, "customers")):
            customer = self.customer(("customers", i), raw)
            self.remember_broken("customers", raw, "id", customer)
            if customer and self.unique(("customers", i, "id"), customer.id, customers, "customer"):
                customers[customer.id] = customer
        grants: dict[str, CreditGrant] = {}
        raw_grants = top.get("credit_grants") or []
        for i, raw in enumerate(self.sequence(("credit_grants",), raw_grants)):
            grant = self.credit_grant(("credit_grants", i), raw, customers)
            if grant and self.unique(("credit_grants", i, "id"), grant.id, grants, "credit grant"):
                grants[grant.id] = grant
        quotas: dict[str, QuotaGrant] = {}
        for i, raw in enumerate(self.sequence(("quota_grants",), top.get("quota_grants") or [])):
            quota = self.quota_grant(("quota_grants", i), raw, customers)
            if quota and self.unique(("quota_grants", i, "id"), quota.id, quotas, "quota grant"):
                quotas[quota.id] = quota
        alerts: dict[str, AlertRule] = {}
        for i, raw in enumerate(self.sequence(("alerts",), top.get("alerts") or [])):
            rule = self.alert_rule(("alerts", i), raw, customers)
            if rule and self.unique(("alerts", i, "id"), rule.id, alerts, "alert rule"):
                alerts[rule.id] = rule
        partners: dict[str, Partner] = {}
        placed: list[tuple[int, Partner]] = []
        for i, raw in enumerate(self.sequence(("partners",), top.get("partners") or [])):
            partner = self.partner(("partners", i), raw, customers)
            if partner and self.unique(("partners", i, "id"), partner.id, partners, "partner"):
                partners[partner.id] = partner
                placed.append((i, partner))
        self.check_one_partner_at_a_time(placed)
        pii = self.pii_properties(top.get("pii_properties", _MISSING), metric_paths)
        return Catalog(
            tuple(self.metrics.values()),
            tuple(self.plans.values()),
            tuple(customers.values()),
            tuple(grants.values()),
            tuple(quotas.values()),
            tuple(alerts.values()),
            tuple(partners.values()),
            pii,
        )

    def section(self, top: dict, name: str) -> list:
        """A top-level list; when it is unusable, nothing that refers into it is reported."""
        if not isinstance(top[name], list):
            self.broken[name] = None
        return self.sequence((name,), top[name])

    def remember_broken(self, section: str, raw: Any, key: str, parsed: Any) -> None:
        broken = self.broken[section]
        if parsed is None and broken is not None and isinstance(raw, dict):
            code = raw.get(key)
            if isinstance(code, str):
                broken.add(code)

    def unknown(self, path: YamlPath, section: str, code: str, message: str) -> None:
        """Reports a reference to an undefined code, unless its definition was reported."""
        broken = self.broken[section]
        if broken is not None and code not in broken:
            self.error(path, message)

    def pii_properties(self, raw: Any, metric_paths: dict[str, YamlPath]) -> tuple[str, ...]:
        """Personal properties; erasure hashes their values, so a metric may only count them
        unique (equal values stay equal): summing, filtering or grouping them would change
        quantities or print hashes on invoices."""
        names: dict[str, str] = {}
        for i, item in enumerate(self.sequence(("pii_properties",), raw)):
            name = self.string(("pii_properties", i), item)
            if name is not None and self.unique(("pii_properties", i), name, names, "property"):
                names[name] = name
        for metric in self.metrics.values():
            path = metric_paths[metric.code]
            if metric.property in names and metric.aggregation != "count_unique":
                self.error(
                    (*path, "property"),
                    f"'{metric.property}' is in pii_properties, whose values erasure replaces "
                    f"with hashes: a {metric.aggregation} of it would change; only "
                    f"count_unique may read a personal property",
                )
            uses = [(metric.group_by, ("group_by",))]
            uses += [(name, ("filters", name)) for name in metric.filters]
            for used, where in uses:
                if used in names:
                    key = where[0]
                    self.error(
                        (*path, *where),
                        f"'{used}' is in pii_properties, whose values erasure replaces with "
                        f"hashes: {key} on it would change quantities or show hashes on "
                        f"invoices; use another property or remove it from pii_properties",
                    )
        return tuple(names)

    # -- metrics ----------------------------------------------------------------------

    def metric(self, path: YamlPath, raw: Any) -> Metric | None:
        spec = self.mapping(
            path,
            raw,
            {"code", "event_name", "aggregation"},
            {"property", "filters", "group_by", *AGGREGATION_OPTIONS},
        )
        if spec is None:
            return None
        code = self.string((*path, "code"), spec["code"])
        event_name = self.string((*path, "event_name"), spec["event_name"])
        aggregation = self.choice((*path, "aggregation"), spec["aggregation"], AGGREGATIONS)
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
        options = self.aggregation_options(path, spec, aggregation)
        invalid_property = prop is None and aggregation != "count"
        invalid_group_by = group_by is None and "group_by" in spec
        if (
            None in (code, event_name, aggregation, filters)
            or invalid_property
            or invalid_group_by
            or options is None
        ):
            return None
        return Metric(code, event_name, aggregation, prop, filters, group_by, **options)

    def aggregation_options(
        self, path: YamlPath, spec: dict, aggregation: str | None
    ) -> dict[str, Any] | None:
        """The keys only one aggregation takes (AGGREGATION_OPTIONS): required by it, refused
        by the others; None when one is wrong."""
        parse = {
            "unit": lambda raw: self.choice((*path, "unit"), raw, TIME_UNITS),
            "percentile": lambda raw: self.percentile((*path, "percentile"), raw),
            "bucket": lambda raw: self.bucket((*path, "bucket"), raw),
        }
        options: dict[str, Any] = {}
        valid = True
        for key, (owner, what) in AGGREGATION_OPTIONS.items():
            if aggregation != owner:
                if key in spec and aggregation:
                    self.error(
                        (*path, key),
                        f"only a {owner} takes a {key}; remove it from this {aggregation}",
                    )
                    valid = False
            elif key not in spec:
                self.error(path, f"missing key '{key}' ({what}) required by {owner}")
                valid = False
            else:
                options[key] = parse[key](spec[key])
                valid = valid and options[key] is not None
        return options if valid else None

    def percentile(self, path: YamlPath, raw: Any) -> Decimal | None:
        """Which percentile: above 0, at most 100, at most 6 decimals."""
        value = self.quantity(path, raw, positive=True)
        if value is None:
            return None
        if value > 100 or -int(value.as_tuple().exponent) > 6:
            self.error(
                path, f"must be above 0 and at most 100, with at most 6 decimals, got {value}"
            )
            return None
        return value

    def bucket(self, path: YamlPath, raw: Any) -> str | None:
        """A bucket's length, `<minutes>m` or `<hours>h`, dividing a UTC day exactly."""
        match = _BUCKET.fullmatch(raw) if isinstance(raw, str) else None
        minutes = int(match[1]) * (60 if match[2] == "h" else 1) if match else 0
        if not minutes or (24 * 60) % minutes:
            self.error(
                path,
                f"must be minutes or hours that divide a day, such as 5m, 15m or 1h, got {raw!r}",
            )
            return None
        return raw

    def filters(self, path: YamlPath, raw: Any) -> dict[str, tuple[str, ...]] | None:
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

    def filter_value(self, path: YamlPath, value: Any) -> str | None:
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

    def plan(self, path: YamlPath, raw: Any) -> Plan | None:
        spec = self.mapping(path, raw, {"code", "name", "versions"}, {"product"})
        if spec is None:
            return None
        code = self.string((*path, "code"), spec["code"])
        name = self.string((*path, "name"), spec["name"])
        product = self.string((*path, "product"), spec["product"]) if "product" in spec else None
        versions: dict[int, PlanVersion] = {}
        raw_versions = self.sequence((*path, "versions"), spec["versions"], non_empty=True)
        for i, raw_version in enumerate(raw_versions):
            version = self.plan_version((*path, "versions", i), raw_version, code or "")
            if version and self.unique(
                (*path, "versions", i, "version"), version.version, versions, "version"
            ):
                versions[version.version] = version
        if code is None or name is None or len(versions) != len(raw_versions) or not versions:
            return None
        if "product" in spec and product is None:
            return None
        ordered = tuple(sorted(versions.values(), key=lambda v: v.version))
        return Plan(code, name, ordered, product)

    def plan_version(self, path: YamlPath, raw: Any, plan: str) -> PlanVersion | None:
        spec = self.mapping(
            path,
            raw,
            {"version", "effective_from", "currency"},
            {
                "fixed_fees",
                "minimum_amount",
                "charges",
                "entitlements",
                "block_on",
                "invoice_at_amount",
            },
        )
        if spec is None:
            return None
        number = self.integer((*path, "version"), spec["version"], minimum=1)
        effective_from = self.date((*path, "effective_from"), spec["effective_from"])
        currency = self.choice((*path, "currency"), spec["currency"], tuple(CURRENCY_MINOR_UNITS))
        fees = self.fixed_fees((*path, "fixed_fees"), spec.get("fixed_fees", []))
        minimum = self.optional_money(path, spec, "minimum_amount")
        charges = self.charges((*path, "charges"), spec.get("charges", []))
        entitlements = self.entitlements((*path, "entitlements"), spec.get("entitlements", []))
        block_on = self.block_on((*path, "block_on"), spec.get("block_on", []))
        threshold = self.invoice_at_amount(path, spec, currency)
        parts = (number, effective_from, currency, fees, charges, entitlements, block_on)
        if None in parts or ("minimum_amount" in spec and minimum is None):
            return None
        if "invoice_at_amount" in spec and threshold is None:
            return None
        return PlanVersion(
            *(plan, number, effective_from, currency, fees, minimum, charges, entitlements),
            *(block_on, threshold),
        )

    def invoice_at_amount(self, path: YamlPath, spec: dict, currency: str | None) -> Decimal | None:
        """The threshold of interim invoices: an amount above 0 in the currency's minor unit."""
        if "invoice_at_amount" not in spec:
            return None
        path = (*path, "invoice_at_amount")
        amount = self.money(path, spec["invoice_at_amount"], positive=True)
        if amount is None or currency is None:
            return None
        places = CURRENCY_MINOR_UNITS[currency]
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            self.error(
                path,
                f"must be a whole amount of {currency}'s minor unit ({places} decimals), got "
                f"{amount}: an interim invoice is issued when the usage billed reaches it",
            )
            return None
        return amount

    def block_on(self, path: YamlPath, raw: Any) -> tuple[str, ...] | None:
        """The conditions that deny the plan's hard-limited features, each named once."""
        conditions: dict[str, str] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            condition = self.choice((*path, i), item, BLOCK_CONDITIONS)
            if condition and self.unique((*path, i), condition, conditions, "condition"):
                conditions[condition] = condition
        return tuple(conditions) if len(conditions) == len(items) else None

    def fixed_fees(self, path: YamlPath, raw: Any) -> tuple[FixedFee, ...] | None:
        fees: dict[str, FixedFee] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            spec = self.mapping((*path, i), item, {"code", "amount"}, set())
            if spec is None:
                continue
            code = self.string((*path, i, "code"), spec["code"])
            amount = self.money((*path, i, "amount"), spec["amount"])
            if code and amount is not None and self.unique((*path, i, "code"), code, fees, "fee"):
                fees[code] = FixedFee(code, amount)
        return tuple(fees.values()) if len(fees) == len(items) else None

    def charges(self, path: YamlPath, raw: Any) -> tuple[Charge, ...] | None:
        charges: dict[str, Charge] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            charge = self.charge((*path, i), item)
            if charge and self.unique(
                (*path, i, "metric"), charge.metric, charges, "charge for metric"
            ):
                charges[charge.metric] = charge
        return tuple(charges.values()) if len(charges) == len(items) else None

    def charge(self, path: YamlPath, raw: Any) -> Charge | None:
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping with metric, model and its prices")
            return None
        if "metric" not in raw:
            self.error(path, "missing key 'metric'")
        metric_code = self.string((*path, "metric"), raw.get("metric", _MISSING))
        metric = self.metrics.get(metric_code) if metric_code else None
        if metric_code and metric is None:
            message = f'unknown metric "{metric_code}"; define it under metrics'
            self.unknown((*path, "metric"), "metrics", metric_code, message)
        price = self.price(path, raw, context_keys={"metric", "group_prices"})
        group_prices: dict[str, Price] | None = {}
        if "group_prices" in raw:
            group_prices = self.group_prices((*path, "group_prices"), raw["group_prices"], metric)
        if metric is None or price is None or group_prices is None:
            return None
        return Charge(metric.code, price, group_prices)

    def group_prices(
        self, path: YamlPath, raw: Any, metric: Metric | None
    ) -> dict[str, Price] | None:
        if metric and metric.group_by is None:
            self.error(
                path,
                f'metric "{metric.code}" has no group_by, so it has no groups to price; '
                "remove group_prices or add group_by to the metric",
            )
            return None
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping of group value to a price")
            return None
        prices = {value: self.price((*path, value), spec) for value, spec in raw.items()}
        return None if None in prices.values() else prices

    def price(
        self, path: YamlPath, spec: Any, context_keys: frozenset[str] | set[str] = frozenset()
    ) -> Price | None:
        """One charge model and exactly its parameters (CONTRACT.md §3, charge models);
        `context_keys` are the other keys allowed beside them (a charge's metric)."""
        if not isinstance(spec, dict):
            self.error(path, "must be a mapping with a model and its prices")
            return None
        if "model" not in spec:
            self.error(path, f"missing key 'model' (one of {', '.join(MODEL_FIELDS)})")
            return None
        model = self.choice((*path, "model"), spec["model"], tuple(MODEL_FIELDS))
        if model is None:
            return None
        required, optional = MODEL_FIELDS[model]
        allowed = {"model", *required, *optional, *context_keys}
        stray = [key for key in spec if key not in allowed]
        for key in stray:
            if key in PRICE_FIELDS:
                takes = ", ".join(sorted(required | optional))
                self.error((*path, key), f"does not apply to {model}, which takes {takes}")
            else:
                listed = ", ".join(sorted(allowed))
                self.error((*path, key), f"unknown key '{key}' (allowed here: {listed})")
        for key in sorted(required - set(spec)):
            self.error(path, f"missing key '{key}' (required by the {model} model)")
        price = self.model_parameters(path, model, {**dict.fromkeys(required, _MISSING), **spec})
        return None if stray else price

    def model_parameters(self, path: YamlPath, model: str, spec: dict) -> Price | None:
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

    def tiers(self, path: YamlPath, raw: Any) -> tuple[Tier, ...] | None:
        """Tiers cover (previous up_to, up_to], bounds strictly increasing, the last open."""
        items = self.sequence(path, raw, non_empty=True)
        tiers: list[Tier | None] = []
        previous = Decimal(0)
        for i, item in enumerate(items):
            tier = self.tier((*path, i), item, last=i == len(items) - 1, previous=previous)
            tiers.append(tier)
            if tier and tier.up_to is not None:
                previous = tier.up_to
        return tuple(tiers) if tiers and None not in tiers else None

    def tier(self, path: YamlPath, raw: Any, last: bool, previous: Decimal) -> Tier | None:
        spec = self.mapping(path, raw, {"up_to", "unit_price"}, {"flat_fee"})
        if spec is None:
            return None
        bounded, up_to = self.tier_bound((*path, "up_to"), spec["up_to"], last, previous)
        unit_price = self.money((*path, "unit_price"), spec["unit_price"])
        flat_fee = self.money((*path, "flat_fee"), spec.get("flat_fee", "0"))
        if not bounded or unit_price is None or flat_fee is None:
            return None
        return Tier(up_to, unit_price, flat_fee)

    def tier_bound(
        self, path: YamlPath, raw: Any, last: bool, previous: Decimal
    ) -> tuple[bool, Decimal | None]:
        """(valid, up_to): None is a valid bound only for the last tier."""
        if raw is _MISSING:
            return False, None
        if raw is None:
            if not last:
                self.error(path, "only the last tier may be unbounded (up_to: null)")
            return last, None
        up_to = self.quantity(path, raw, positive=True)
        if up_to is None:
            return False, None
        if last:
            self.error(path, "the last tier must have up_to: null")
            return False, None
        if up_to <= previous:
            self.error(
                path,
                f"tiers out of order: {up_to} must be greater than the previous tier's "
                f"up_to {previous}",
            )
            return False, None
        return True, up_to

    def entitlements(self, path: YamlPath, raw: Any) -> tuple[Entitlement, ...] | None:
        result: dict[str, Entitlement] = {}
        items = self.sequence(path, raw)
        for i, item in enumerate(items):
            entitlement = self.entitlement((*path, i), item)
            if entitlement and self.unique(
                (*path, i, "feature"), entitlement.feature, result, "entitlement for"
            ):
                result[entitlement.feature] = entitlement
        return tuple(result.values()) if len(result) == len(items) else None

    def entitlement(self, path: YamlPath, raw: Any) -> Entitlement | None:
        """A switch ({feature, enabled}), a static config ({feature, config}) or a metered
        limit ({feature, [metric], limit, enforcement, [period]}; `limit: null` is
        unlimited)."""
        optional = {"limit", "enforcement", "enabled", "metric", "period", "config"}
        spec = self.mapping(path, raw, {"feature"}, optional)
        if spec is None:
            return None
        feature = self.string((*path, "feature"), spec["feature"])
        for kind in ("enabled", "config"):
            if kind in spec and set(spec) - {"feature", kind}:
                others = ", ".join(sorted(set(spec) - {"feature", kind}))
                self.error(path, f"a feature with {kind} takes nothing else; remove {others}")
                return None
        if "enabled" in spec:
            if not isinstance(spec["enabled"], bool):
                self.error((*path, "enabled"), "must be true or false")
                return None
            return Entitlement(feature, enabled=spec["enabled"]) if feature else None
        if "config" in spec:
            if not isinstance(spec["config"], dict):
                self.error((*path, "config"), "must be a mapping (the feature's JSON config)")
                return None
            return Entitlement(feature, config=spec["config"]) if feature else None
        return self.metered_entitlement(path, spec, feature)

    def metered_entitlement(
        self, path: YamlPath, spec: dict, feature: str | None
    ) -> Entitlement | None:
        if "limit" not in spec:
            self.error(
                path,
                "needs enabled: true|false, config: {...}, or limit (a number, or null for "
                "unlimited) with enforcement",
            )
            return None
        limit = None
        if spec["limit"] is not None:
            limit = self.quantity((*path, "limit"), spec["limit"])
            if limit is None:
                return None
            if "enforcement" not in spec:
                self.error(path, "missing key 'enforcement' (soft or hard) for a limit")
                return None
        enforcement = self.choice(
            (*path, "enforcement"), spec.get("enforcement", "soft"), ("soft", "hard")
        )
        period = self.choice(
            (*path, "period"), spec.get("period", "billing_period"), ENTITLEMENT_PERIODS
        )
        metric = self.string((*path, "metric"), spec["metric"]) if "metric" in spec else None
        counted = metric or feature
        if counted and counted not in self.metrics:
            where = (*path, "metric") if metric else (*path, "feature")
            message = (
                f'unknown metric "{counted}"; define it under metrics'
                if metric
                else f'feature "{counted}" is not a metric; name the metric it counts with '
                f"metric: CODE"
            )
            self.unknown(where, "metrics", counted, message)
            return None
        if counted and self.metrics[counted].aggregation in ("time_weighted_sum", "percentile"):
            self.error(
                (*path, "metric") if metric else (*path, "feature"),
                f'metric "{counted}" is a {self.metrics[counted].aggregation}, which is known '
                f"only once its period ends; an entitlement limits a count, sum, count_unique, "
                f"max or latest",
            )
            return None
        if feature is None or enforcement is None or period is None:
            return None
        return Entitlement(feature, limit, enforcement, metric=metric, period=period)

    # -- customers, subscriptions, grants -----------------------------------------------

    def customer(self, path: YamlPath, raw: Any) -> Customer | None:
        spec = self.mapping(
            path, raw, {"id", "name"}, {"tax_rate", "subscriptions", "gateway", "timezone"}
        )
        if spec is None:
            return None
        customer_id = self.string((*path, "id"), spec["id"])
        name = self.string((*path, "name"), spec["name"])
        tax_rate = self.money((*path, "tax_rate"), spec.get("tax_rate", "0"), maximum=Decimal(1))
        gateway = self.choice((*path, "gateway"), spec.get("gateway", _MISSING), GATEWAYS)
        timezone = self.timezone((*path, "timezone"), spec.get("timezone", "UTC"))
        items = self.sequence((*path, "subscriptions"), spec.get("subscriptions", []))
        subscriptions = [
            self.subscription((*path, "subscriptions", i), item, customer_id or "")
            for i, item in enumerate(items)
        ]
        self.check_overlaps((*path, "subscriptions"), subscriptions)
        self.check_one_currency((*path, "subscriptions"), subscriptions)
        gateway_valid = gateway is not None or "gateway" not in spec
        if gateway_valid:
            self.check_gateway_currency(path, subscriptions, gateway)
        valid = [s for s in subscriptions if s is not None]
        parts = (customer_id, name, tax_rate, timezone)
        if None in parts or not gateway_valid or len(valid) != len(items):
            return None
        return Customer(customer_id, name, tax_rate, tuple(valid), gateway, timezone)

    def timezone(self, path: YamlPath, raw: Any) -> str | None:
        """An IANA zone name (`Asia/Kolkata`): the customer's calendar, with its DST rules."""
        name = self.string(path, raw)
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(
                path,
                f"unknown time zone {name!r}: give an IANA zone name such as "
                f"America/Los_Angeles or Asia/Kolkata (default UTC)",
            )
            return None
        return name

    def subscription(self, path: YamlPath, raw: Any, customer: str) -> Subscription | None:
        spec = self.mapping(
            path, raw, {"plan", "start"}, {"version", "end", "overrides", "discounts"}
        )
        if spec is None:
            return None
        start = self.date((*path, "start"), spec["start"])
        has_end = spec.get("end") is not None
        end = self.date((*path, "end"), spec["end"]) if has_end else None
        if start and end and end <= start:
            self.error(
                (*path, "end"), f"must be after start ({start.isoformat()}); end is exclusive"
            )
            end = None
        discounts = self.discounts((*path, "discounts"), spec.get("discounts", []))
        plan_code = self.string((*path, "plan"), spec["plan"])
        plan = self.plans.get(plan_code) if plan_code else None
        if plan_code and plan is None:
            message = f'unknown plan "{plan_code}"; define it under plans'
            self.unknown((*path, "plan"), "plans", plan_code, message)
        if plan is None or start is None:
            return None
        version = self.resolve_version(path, spec, plan, start)
        if version is None:
            return None
        overrides = self.overrides((*path, "overrides"), spec.get("overrides", {}), version)
        if overrides is None or discounts is None or (has_end and end is None):
            return None
        return Subscription(
            subscription_id(customer, plan.code, start),
            customer,
            plan.code,
            version.version,
            start,
            end,
            overrides,
            discounts,
        )

    def resolve_version(
        self, path: YamlPath, spec: dict, plan: Plan, start: date
    ) -> PlanVersion | None:
        """The version given, else the latest in effect on the start date (CONTRACT.md §2);
        of two versions effective the same day, the higher number."""
        if "version" in spec:
            number = self.integer((*path, "version"), spec["version"], minimum=1)
            match = [v for v in plan.versions if v.version == number]
            if number is not None and not match:
                known = ", ".join(str(v.version) for v in plan.versions)
                self.error(
                    (*path, "version"),
                    f'plan "{plan.code}" has no version {number} (it has {known})',
                )
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

    def overrides(self, path: YamlPath, raw: Any, version: PlanVersion) -> Overrides | None:
        spec = self.mapping(
            path, raw, set(), {"charges", "fixed_fees", "minimum_amount", "entitlements"}
        )
        if spec is None:
            return None
        where = f"plan {version.plan} version {version.version}"
        prices = self.override_charges((*path, "charges"), spec.get("charges", {}), version, where)
        fees = self.override_fees((*path, "fixed_fees"), spec.get("fixed_fees", {}), version, where)
        minimum = self.optional_money(path, spec, "minimum_amount")
        entitlements = self.entitlements((*path, "entitlements"), spec.get("entitlements", []))
        if (
            prices is None
            or fees is None
            or entitlements is None
            or ("minimum_amount" in spec and minimum is None)
        ):
            return None
        return Overrides(prices, fees, minimum, entitlements)

    def override_charges(
        self, path: YamlPath, raw: Any, version: PlanVersion, where: str
    ) -> dict[str, Price] | None:
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping of metric to a price")
            return None
        charged = {c.metric for c in version.charges}
        prices: dict[str, Price | None] = {}
        for metric, spec in raw.items():
            if metric in charged:
                prices[metric] = self.price((*path, metric), spec)
            else:
                self.error(
                    (*path, metric),
                    f'metric "{metric}" is not charged by {where}; only its charges can be '
                    "overridden",
                )
                prices[metric] = None
        return None if None in prices.values() else prices

    def override_fees(
        self, path: YamlPath, raw: Any, version: PlanVersion, where: str
    ) -> dict[str, Decimal] | None:
        if not isinstance(raw, dict):
            self.error(path, "must be a mapping of fee code to {amount: ...}")
            return None
        codes = {f.code for f in version.fixed_fees}
        fees: dict[str, Decimal | None] = {}
        for code, spec in raw.items():
            fees[code] = None
            if code not in codes:
                self.error(
                    (*path, code),
                    f'fee "{code}" is not a fixed fee of {where}; only its fees can be overridden',
                )
            elif fee := self.mapping((*path, code), spec, {"amount"}, set()):
                fees[code] = self.money((*path, code, "amount"), fee["amount"])
        return None if None in fees.values() else fees

    def discounts(self, path: YamlPath, raw: Any) -> tuple[Discount, ...] | None:
        items = self.sequence(path, raw)
        result = [self.discount((*path, i), item) for i, item in enumerate(items)]
        return None if None in result else tuple(result)

    def discount(self, path: YamlPath, raw: Any) -> Discount | None:
        """A percentage takes `value` (0..100), a fixed discount an `amount`."""
        kind = raw.get("type", _MISSING) if isinstance(raw, dict) else None
        field = DISCOUNT_FIELDS.get(kind) if isinstance(kind, str) else None
        if field is None:  # say the type is wrong, not which of value or amount is missing
            if self.mapping(path, raw, {"type"}, {"value", "amount", "months"}) is not None:
                self.choice((*path, "type"), kind, tuple(DISCOUNT_FIELDS))
            return None
        spec = self.mapping(path, raw, {"type", field}, {"months"})
        if spec is None:
            return None
        maximum = Decimal(100) if kind == "percentage" else None
        value = self.money((*path, field), spec[field], maximum=maximum)
        months = None
        if spec.get("months") is not None:
            months = self.integer((*path, "months"), spec["months"], minimum=1)
            if months is None:
                return None
        return None if value is None else Discount(kind, value, months)

    def check_overlaps(self, path: YamlPath, subscriptions: list[Subscription | None]) -> None:
        """At most one active subscription per product at any instant: the [start, end)
        windows of one product's plans are disjoint (plans without a product share one)."""
        for later, b in enumerate(subscriptions):
            for earlier, a in enumerate(subscriptions[:later]):
                if a is None or b is None:
                    continue
                if not (a.start < (b.end or date.max) and b.start < (a.end or date.max)):
                    continue
                product = self.plans[a.plan].product
                if product != self.plans[b.plan].product:
                    self.check_products_apart((*path, later), b, earlier, a)
                elif product is None:
                    self.error(
                        (*path, later),
                        f"overlaps subscriptions[{earlier}] ({a.plan} from "
                        f"{a.start.isoformat()}); a customer has at most one active "
                        f"subscription at a time, so end one where the next starts",
                    )
                else:
                    self.error(
                        (*path, later),
                        f"overlaps subscriptions[{earlier}] ({a.plan} from "
                        f'{a.start.isoformat()}), also of product "{product}"; a customer has '
                        f"at most one active subscription per product at a time, so end one "
                        f"where the next starts",
                    )

    def check_products_apart(
        self, path: YamlPath, subscription: Subscription, other_index: int, other: Subscription
    ) -> None:
        """Concurrent subscriptions of two products may not both charge a metric (its events
        would be billed twice) nor both offer a feature (its limit must come from one)."""
        for kind, parts in (
            ("charges metric", lambda s: {c.metric for c in self.version_of(s).charges}),
            ("offers feature", lambda s: {e.feature for e in self.entitlements_of(s)}),
        ):
            for code in sorted(parts(subscription) & parts(other)):
                self.error(
                    path,
                    f'{kind} "{code}", as subscriptions[{other_index}] ({other.plan} from '
                    f"{other.start.isoformat()}) does on the same days; each belongs to one "
                    f"product, so remove it from one of the two plans",
                )

    def version_of(self, subscription: Subscription) -> PlanVersion:
        versions = self.plans[subscription.plan].versions
        return next(v for v in versions if v.version == subscription.version)

    def entitlements_of(self, subscription: Subscription) -> tuple[Entitlement, ...]:
        return effective_entitlements(self.version_of(subscription), subscription.overrides)

    def currencies(self, subscriptions: list[Subscription | None]) -> list[tuple[int, str]]:
        """(index, currency) of each valid subscription: its plan version's currency."""
        return [
            (i, self.version_of(subscription).currency)
            for i, subscription in enumerate(subscriptions)
            if subscription is not None
        ]

    def check_one_currency(self, path: YamlPath, subscriptions: list[Subscription | None]) -> None:
        """An invoice and a credit grant have one currency, so a customer's plans share it."""
        first: tuple[int, str] | None = None
        for i, currency in self.currencies(subscriptions):
            if first is None:
                first = (i, currency)
            elif currency != first[1]:
                self.error(
                    (*path, i),
                    f"is priced in {currency} but subscriptions[{first[0]}] in {first[1]}; "
                    "a customer is invoiced in one currency, so use a plan priced in "
                    f"{first[1]} or a separate customer",
                )

    def check_gateway_currency(
        self, path: YamlPath, subscriptions: list[Subscription | None], gateway: str | None
    ) -> None:
        """Refused now rather than at month end: a gateway that cannot invoice the currency."""
        name = gateway or self.default_gateway
        for i, currency in self.currencies(subscriptions):
            if currency not in CURRENCIES[name]:
                where = (
                    "its gateway" if gateway else f"the default gateway (BILLING_GATEWAY={name})"
                )
                self.error(
                    (*path, "subscriptions", i),
                    f"is priced in {currency}, which {name} cannot invoice ({where} takes "
                    f"{', '.join(sorted(CURRENCIES[name]))}); give the customer another gateway "
                    f"or a plan in one of those currencies",
                )
                return

    def credit_grant(self, path: YamlPath, raw: Any, customers: dict) -> CreditGrant | None:
        spec = self.mapping(
            path,
            raw,
            {"id", "customer", "amount", "effective"},
            {"expires", "priority", "product"},
        )
        if spec is None:
            return None
        amount = self.money((*path, "amount"), spec["amount"], positive=True)
        grant = self.grant_terms(path, spec, customers)
        product = self.grant_product((*path, "product"), spec.get("product"))
        if grant is None or amount is None or (spec.get("product") is not None and not product):
            return None
        grant_id, customer, effective, expires, priority = grant
        return CreditGrant(grant_id, customer, amount, effective, expires, priority, product)

    def grant_product(self, path: YamlPath, raw: Any) -> str | None:
        """A credit grant's `product`: one that a plan of the catalog sells."""
        if raw is None:
            return None
        product = self.string(path, raw)
        products = sorted({p.product for p in self.plans.values() if p.product is not None})
        if product is not None and product not in products:
            known = ", ".join(products) or "none: give plans a product first"
            self.error(path, f'unknown product "{product}"; the plans\' products are {known}')
            return None
        return product

    def quota_grant(self, path: YamlPath, raw: Any, customers: dict) -> QuotaGrant | None:
        spec = self.mapping(
            path,
            raw,
            {"id", "customer", "feature", "units", "effective"},
            {"expires", "priority"},
        )
        if spec is None:
            return None
        feature = self.string((*path, "feature"), spec["feature"])
        units = self.quantity((*path, "units"), spec["units"], positive=True)
        grant = self.grant_terms(path, spec, customers)
        if grant is None or feature is None or units is None:
            return None
        grant_id, customer, effective, expires, priority = grant
        return QuotaGrant(grant_id, customer, feature, units, effective, expires, priority)

    # -- alerts -------------------------------------------------------------------------

    def alert_rule(self, path: YamlPath, raw: Any, customers: dict) -> AlertRule | None:
        """{id, customer ("*" for all), one of feature | metric | amount (so_far or
        projected), thresholds, [every], [spending_cap]}."""
        spec = self.mapping(
            path,
            raw,
            {"id", "customer", "thresholds"},
            {"feature", "metric", "amount", "every", "spending_cap"},
        )
        if spec is None:
            return None
        rule_id = self.string((*path, "id"), spec["id"])
        customer = self.string((*path, "customer"), spec["customer"])
        if customer and customer != "*" and customer not in customers:
            message = f'unknown customer "{customer}"; define it under customers, or use "*"'
            self.unknown((*path, "customer"), "customers", customer, message)
            customer = None
        targets = [key for key in ("feature", "metric", "amount") if key in spec]
        if len(targets) != 1:
            self.error(path, "needs exactly one of feature, metric or amount to watch")
            return None
        (target,) = targets
        if target == "amount":
            code = self.choice((*path, "amount"), spec["amount"], ("so_far", "projected"))
        else:
            code = self.string((*path, target), spec[target])
        if target == "metric" and code and code not in self.metrics:
            message = f'unknown metric "{code}"; define it under metrics'
            self.unknown((*path, "metric"), "metrics", code, message)
            code = None
        thresholds = self.thresholds((*path, "thresholds"), spec["thresholds"], target)
        every = None
        if "every" in spec:
            every = self.threshold((*path, "every"), spec["every"], target, positive=True)
        if every and thresholds and every.percent != thresholds[0].percent:
            self.error((*path, "every"), "must be in the unit of the thresholds (% or not)")
            return None
        spending_cap = spec.get("spending_cap", False)
        if not isinstance(spending_cap, bool):
            self.error((*path, "spending_cap"), "must be true or false")
            return None
        if spending_cap and thresholds and (len(thresholds) != 1 or every is not None):
            self.error(path, "a spending cap has one threshold and no every: the cap")
            return None
        if None in (rule_id, customer, code, thresholds) or ("every" in spec and every is None):
            return None
        return AlertRule(rule_id, customer, target, code, thresholds, every, spending_cap)

    def thresholds(self, path: YamlPath, raw: Any, target: str) -> tuple[Threshold, ...] | None:
        items = self.sequence(path, raw, non_empty=True)
        thresholds = [self.threshold((*path, i), item, target) for i, item in enumerate(items)]
        if not items or None in thresholds:
            return None
        for i, (before, after) in enumerate(itertools.pairwise(thresholds), start=1):
            if after.percent != before.percent or after.value <= before.value:
                self.error((*path, i), f"must be above {before.label}, in the same unit")
                return None
        return tuple(thresholds)

    def threshold(
        self, path: YamlPath, raw: Any, target: str, positive: bool = False
    ) -> Threshold | None:
        """ "80%" of a feature's limit, or a quantity ("1000"; money for amounts)."""
        if isinstance(raw, str) and raw.endswith("%"):
            if target != "feature":
                self.error(path, f"a percentage needs a feature's limit; {target} takes a number")
                return None
            value = self.quantity(path, raw[:-1], positive=positive)
            return Threshold(value, percent=True) if value is not None else None
        if target == "amount":
            value = self.money(path, raw, positive=positive)
        else:
            value = self.quantity(path, raw, positive=positive)
        return Threshold(value) if value is not None else None

    def partner(self, path: YamlPath, raw: Any, customers: dict) -> Partner | None:
        spec = self.mapping(path, raw, {"id", "name", "share", "customers"}, {"basis"})
        if spec is None:
            return None
        partner_id = self.string((*path, "id"), spec["id"])
        name = self.string((*path, "name"), spec["name"])
        share = self.money((*path, "share"), spec["share"], positive=True, maximum=Decimal(1))
        basis = self.choice((*path, "basis"), spec.get("basis", "subtotal"), ("subtotal", "total"))
        brought = []
        for i, item in enumerate(self.sequence((*path, "customers"), spec["customers"])):
            brought.append(self.partner_customer((*path, "customers", i), item, customers))
        if None in (partner_id, name, share, basis) or None in brought:
            return None
        return Partner(partner_id, name, share, tuple(brought), basis)

    def partner_customer(self, path: YamlPath, raw: Any, customers: dict) -> PartnerCustomer | None:
        spec = self.mapping(path, raw, {"id", "from"}, {"to"})
        if spec is None:
            return None
        customer = self.string((*path, "id"), spec["id"])
        if customer and customer not in customers:
            message = f'unknown customer "{customer}"; define it under customers'
            self.unknown((*path, "id"), "customers", customer, message)
            customer = None
        start = self.date((*path, "from"), spec["from"])
        has_end = spec.get("to") is not None
        end = self.date((*path, "to"), spec["to"]) if has_end else None
        if start and end and end < start:
            self.error((*path, "to"), f"must not be before from ({start.isoformat()})")
            return None
        if customer is None or start is None or (has_end and end is None):
            return None
        return PartnerCustomer(customer, start, end)

    def check_one_partner_at_a_time(self, partners: list[tuple[int, Partner]]) -> None:
        """A customer's billing is shared with one partner at most, at any date (`partners`:
        the valid ones, with their index in the file)."""
        seen: dict[str, list[tuple[int, PartnerCustomer]]] = {}
        for p_index, partner in partners:
            for c_index, brought in enumerate(partner.customers):
                for other_p, other in seen.get(brought.customer, []):
                    if brought.start <= (other.end or date.max) and other.start <= (
                        brought.end or date.max
                    ):
                        self.error(
                            ("partners", p_index, "customers", c_index),
                            f"customer {brought.customer!r} is also brought by "
                            f"partners[{other_p}] at the same dates; a customer's billing is "
                            f"shared with one partner at a time",
                        )
                seen.setdefault(brought.customer, []).append((p_index, brought))

    def grant_terms(self, path: YamlPath, spec: dict, customers: dict) -> tuple | None:
        """What credit and quota grants share: id, customer, effective, expires, priority."""
        grant_id = self.string((*path, "id"), spec["id"])
        customer = self.string((*path, "customer"), spec["customer"])
        if customer and customer not in customers:
            message = f'unknown customer "{customer}"; define it under customers'
            self.unknown((*path, "customer"), "customers", customer, message)
            customer = None
        effective = self.date((*path, "effective"), spec["effective"])
        has_expiry = spec.get("expires") is not None
        expires = self.date((*path, "expires"), spec["expires"]) if has_expiry else None
        if effective and expires and expires < effective:
            self.error(
                (*path, "expires"), f"must not be before effective ({effective.isoformat()})"
            )
            expires = None
        priority = self.integer((*path, "priority"), spec.get("priority", 0), minimum=None)
        if None in (grant_id, customer, effective, priority) or (has_expiry and expires is None):
            return None
        return grant_id, customer, effective, expires, priority

    # -- shape and scalar checks ---------------------------------------------------------
    # Each returns None (or an empty list) when invalid, having reported why, and stays
    # quiet on _MISSING: `mapping` has already reported the absent key.

    def mapping(self, path: YamlPath, raw: Any, required: set, optional: set) -> dict | None:
        """A mapping with all `required` keys and no key outside `required | optional`.

        The result has every required key, _MISSING where absent, so that the checks of the
        keys present still run and report."""
        if raw is _MISSING:
            return None
        if not isinstance(raw, dict):
            needs = f" with {', '.join(sorted(required))}" if required else ""
            self.error(path, f"must be a mapping{needs}")
            return None
        for key in sorted(required - set(raw)):
            self.error(path, f"missing key '{key}'")
        known = required | optional
        for key in raw:
            if key not in known:
                allowed = ", ".join(sorted(known))
                self.error((*path, key), f"unknown key '{key}' (allowed here: {allowed})")
        return {**dict.fromkeys(required, _MISSING), **raw}

    def sequence(self, path: YamlPath, raw: Any, non_empty: bool = False) -> list:
        if raw is _MISSING:
            return []
        if not isinstance(raw, list):
            self.error(path, "must be a list")
            return []
        if non_empty and not raw:
            self.error(path, "must not be empty")
        return raw

    def unique(self, path: YamlPath, key: Any, seen: dict, what: str) -> bool:
        if key in seen:
            self.error(path, f"duplicate {what} {key!r}; each must appear only once")
            return False
        return True

    def string(self, path: YamlPath, raw: Any) -> str | None:
        if raw is _MISSING:
            return None
        if isinstance(raw, str) and not isinstance(raw, YamlFloat) and raw.strip():
            return raw
        if isinstance(raw, int | date | YamlFloat) and not isinstance(raw, bool):
            self.error(path, f'must be a string: write it in quotes ("{raw}")')
        else:
            self.error(path, "must be a non-empty string")
        return None

    def choice(self, path: YamlPath, raw: Any, choices: tuple[str, ...]) -> str | None:
        if raw is _MISSING:
            return None
        if not isinstance(raw, str) or isinstance(raw, YamlFloat) or raw not in choices:
            self.error(path, f"must be one of {', '.join(choices)}, got {raw!r}")
            return None
        return raw

    def integer(self, path: YamlPath, raw: Any, minimum: int | None) -> int | None:
        """A whole number the store's 32-bit columns hold (versions, months, priorities)."""
        if raw is _MISSING:
            return None
        if not isinstance(raw, int) or isinstance(raw, bool):
            self.error(path, f"must be a whole number, got {raw!r}")
            return None
        if minimum is not None and raw < minimum:
            self.error(path, f"must be at least {minimum}, got {raw}")
            return None
        if not -_INT32_LIMIT <= raw < _INT32_LIMIT:
            self.error(path, f"must be between {-_INT32_LIMIT} and {_INT32_LIMIT - 1}, got {raw}")
            return None
        return raw

    def date(self, path: YamlPath, raw: Any) -> date | None:
        if raw is _MISSING:
            return None
        if isinstance(raw, datetime):
            self.error(path, "must be a date without a time of day, written YYYY-MM-DD (UTC)")
            return None
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        self.error(path, f"must be a date written YYYY-MM-DD (UTC), got {raw!r}")
        return None

    def optional_money(self, path: YamlPath, spec: dict, key: str) -> Decimal | None:
        return self.money((*path, key), spec[key]) if key in spec else None

    def money(
        self, path: YamlPath, raw: Any, positive: bool = False, maximum: Decimal | None = None
    ) -> Decimal | None:
        """An amount, price or rate: a decimal string, never a float (CONTRACT.md §2)."""
        if raw is _MISSING:
            return None
        if isinstance(raw, YamlFloat):
            self.error(path, f'must be a decimal string such as "{raw}", not the float {raw}')
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            self.error(path, f'must be a decimal string: write "{raw}" in quotes')
            return None
        if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw):
            self.error(path, f'must be a decimal string such as "12.50", got {raw!r}')
            return None
        return self.bounded(path, self.stored(path, Decimal(raw), MONEY_DIGITS), positive, maximum)

    def quantity(self, path: YamlPath, raw: Any, positive: bool = False) -> Decimal | None:
        """A number of units: a whole number or a decimal string, never a float."""
        if raw is _MISSING:
            return None
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
        return self.bounded(path, self.stored(path, Decimal(raw), QUANTITY_DIGITS), positive, None)

    def stored(self, path: YamlPath, value: Decimal, digits: tuple[int, int]) -> Decimal | None:
        """`value` if the warehouse's Decimal column holds it exactly, else an error."""
        integer_digits, fraction_digits = digits
        fraction = max(-int(value.as_tuple().exponent), 0)
        whole = len(str(int(abs(value))).lstrip("0"))
        if whole > integer_digits or fraction > fraction_digits:
            self.error(
                path,
                f"must have at most {integer_digits} digits before the decimal point and "
                f"{fraction_digits} after it (what the warehouse stores exactly), got {value:f}",
            )
            return None
        return value

    def bounded(
        self, path: YamlPath, value: Decimal | None, positive: bool, maximum: Decimal | None
    ) -> Decimal | None:
        if value is None:
            return None
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
