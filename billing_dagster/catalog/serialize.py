"""A validated catalog as canonical JSON and back, so billing reads exactly what was applied.

Decimals and dates are written as strings (never floats), keys sorted: equal catalogs give
equal text, which is also what `store.py` hashes. Reading back rebuilds the same immutable
objects from the dataclass type hints, without validating again.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from billing_dagster.catalog.gc_pause import gc_paused
from billing_dagster.catalog.model import Catalog


def catalog_to_json(catalog: Catalog) -> str:
    return canonical_json(catalog)


def canonical_json(value: Any) -> str:
    """Stable text of a catalog part (a catalog, a plan version...): equal text <=> equal
    content."""
    return json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """What JSON cannot write itself: a dataclass as the mapping of its fields, which the
    encoder then walks (`dataclasses.asdict` would deep-copy every value first), and
    anything else (Decimal, date) as its text."""
    if is_dataclass(value):
        return {
            f.name: getattr(value, f.name)
            for f in fields(value)
            if not (f.metadata.get("added") and getattr(value, f.name) == f.default)
        }
    return str(value)


@gc_paused()
def catalog_from_json(text: str) -> Catalog:
    return _reader(Catalog)(json.loads(text))


def catalog_part_from_json(name: str, text: str) -> Any:
    """One top-level part of a catalog (`alerts`, `quota_grants`...) from its JSON text,
    or its default when the catalog has none: a reader that needs one part of a catalog of
    10,000 customers does not rebuild them all."""
    part = next(f for f in fields(Catalog) if f.name == name)
    if not text:
        return part.default
    return _reader(typing.get_type_hints(Catalog)[name])(json.loads(text))


@cache
def _reader(kind: Any) -> Callable[[Any], Any]:
    """The function that turns parsed JSON into a value of the annotated type `kind`: the
    type hints are looked at once per type, not once per value of a large catalog."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        read_option = _reader(next(o for o in typing.get_args(kind) if o is not type(None)))
        return lambda raw: None if raw is None else read_option(raw)
    if origin is typing.Literal or kind in (str, bool, int, Any):
        return lambda raw: raw
    if kind is Decimal:
        return Decimal
    if kind is date:
        return date.fromisoformat
    if origin is tuple:
        read_item = _reader(typing.get_args(kind)[0])
        return lambda raw: tuple(map(read_item, raw))
    if origin is dict:
        read_value = _reader(typing.get_args(kind)[1])
        return lambda raw: {key: read_value(value) for key, value in raw.items()}
    if is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        readers = [(f.name, _reader(hints[f.name])) for f in fields(kind)]
        added = {f.name for f in fields(kind) if f.metadata.get("added")}
        return lambda raw: kind(
            **{name: read(raw[name]) for name, read in readers if name in raw or name not in added}
        )
    raise TypeError(f"cannot read a {kind!r} from catalog JSON")
