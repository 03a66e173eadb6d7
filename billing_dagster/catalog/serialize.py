"""A validated catalog as canonical JSON and back, so billing reads exactly what was applied.

Decimals and dates are written as strings (never floats), keys sorted: equal catalogs give
equal text, which is also what `store.py` hashes. Reading back rebuilds the same immutable
objects from the dataclass type hints, without validating again.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, fields, is_dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from billing_dagster.catalog.model import Catalog


def catalog_to_json(catalog: Catalog) -> str:
    return canonical_json(catalog)


def canonical_json(value: Any) -> str:
    """Stable text of a catalog part: equal text <=> equal content."""
    return json.dumps(asdict(value), sort_keys=True, default=str, separators=(",", ":"))


def catalog_from_json(text: str) -> Catalog:
    return _build(Catalog, json.loads(text))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(kind: Any, raw: Any) -> Any:
    """`raw` (parsed JSON) as a value of the annotated type `kind`."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return None if raw is None else _build(options[0], raw)
    if origin is typing.Literal or kind in (str, bool, int, Any):
        return raw
    if kind is Decimal:
        return Decimal(raw)
    if kind is date:
        return date.fromisoformat(raw)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_build(item, value) for value in raw)
    if origin is dict:
        _, item = typing.get_args(kind)
        return {key: _build(item, value) for key, value in raw.items()}
    if is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{f.name: _build(hints[f.name], raw[f.name]) for f in fields(kind)})
    raise TypeError(f"cannot read a {kind!r} from catalog JSON")
