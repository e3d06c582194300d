"""Keyword helpers for the offline generator: types, merging subschemas, numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from random import Random
from typing import Any

from app.jsonschema.engine import is_multiple


def pick_type(schema: Mapping[str, Any]) -> str:
    """The type to generate: the first non-null one listed, else inferred from keywords."""
    kinds = schema.get("type")
    if isinstance(kinds, str):
        return kinds
    if isinstance(kinds, list) and kinds:
        non_null = [k for k in kinds if k != "null"]
        return str(non_null[0] if non_null else kinds[0])
    # No type: infer from the keywords present, else a string reads best.
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas' constraints in one schema (a best-effort intersection)."""
    out = dict(base)
    for key, value in extra.items():
        if key not in out:
            out[key] = value
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required":
            out[key] = list(dict.fromkeys([*out[key], *value]))
        elif key in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum"):
            out[key] = max(out[key], value)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum"):
            out[key] = min(out[key], value)
        elif key == "type":
            mine = out[key] if isinstance(out[key], list) else [out[key]]
            theirs = value if isinstance(value, list) else [value]
            both = [t for t in mine if t in theirs or (t == "integer" and "number" in theirs)]
            both += [t for t in theirs if t == "integer" and "number" in mine and t not in both]
            out[key] = both or mine
        elif key == "enum":
            both = [v for v in out[key] if v in value]
            out[key] = both or out[key]
        elif key in ("anyOf", "oneOf"):
            out["allOf"] = [*out.get("allOf", []), {key: value}]
    return out


def number(schema: Mapping[str, Any], rng: Random, *, integer: bool) -> int | float:
    """A number inside the bounds (and a multiple of `multipleOf`), chosen by `rng`."""
    min_bound, low_open = _bound(schema, "minimum", "exclusiveMinimum", lower=True)
    max_bound, high_open = _bound(schema, "maximum", "exclusiveMaximum", lower=False)
    step = _num(schema.get("multipleOf")) or None
    # Unbounded sides get a small, friendly range rather than the whole float line.
    if min_bound is None:
        low = 0.0 if max_bound is None or max_bound > 0 else max_bound - 100
    else:
        low = min_bound
    high = max_bound if max_bound is not None else low + 100
    if integer or step is not None:
        return _stepped(low, low_open, high, high_open, step, rng, integer=integer)
    value = round(low + rng.random() * (high - low), 2)
    if _inside(value, low, low_open, high, high_open):
        return value
    return (low + high) / 2


def _stepped(
    low: float,
    low_open: bool,
    high: float,
    high_open: bool,
    step: float | None,
    rng: Random,
    *,
    integer: bool,
) -> int | float:
    """A multiple of `step` (of 1 for integers) inside the bounds, in exact arithmetic:
    `minimum: 1e308, multipleOf: 1e-308` has 10^616 candidates, which floats cannot count."""
    unit = _fraction(step if step is not None else 1)
    if integer:  # k * p/q is an integer exactly when k is a multiple of q: step by p
        unit = Fraction(unit.numerator)
    low_f, high_f = _fraction(low), _fraction(high)
    first = math.floor(low_f / unit) + 1 if low_open else math.ceil(low_f / unit)
    last = math.ceil(high_f / unit) - 1 if high_open else math.floor(high_f / unit)
    fallback = int(low) if integer else low
    if first > last:
        return fallback
    start = rng.randint(first, last)
    # Converting back to a float may land off the step or outside the bounds; probe nearby.
    for k in [start, *range(first, min(last, first + 50) + 1)]:
        value = _candidate(k * unit, integer)
        inside = value is not None and _inside(value, low, low_open, high, high_open)
        if inside and (step is None or is_multiple(value, step)):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
    return fallback


def _candidate(exact: Fraction, integer: bool) -> int | float | None:
    if integer:
        return int(exact) if exact.denominator == 1 else None
    try:
        return float(exact)
    except OverflowError:
        return None


def _fraction(value: float) -> Fraction:
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def _inside(value: float, low: float, low_open: bool, high: float, high_open: bool) -> bool:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    return above and below


def _bound(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, *, lower: bool
) -> tuple[float | None, bool]:
    """The tighter of the inclusive and exclusive bound, and whether it is exclusive."""
    closed = _num(schema.get(inclusive))
    open_bound = schema.get(exclusive)
    if isinstance(open_bound, bool):  # draft 4: a flag on minimum/maximum
        return closed, open_bound
    opened = _num(open_bound)
    if opened is None:
        return closed, False
    if closed is not None and (closed > opened if lower else closed < opened):
        return closed, False
    return opened, True


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
