"""Jinja filters of the web pages: numbers, money, times and JSON as people read them."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment

from app.evaluation.assertions import MISSING, resolve

DASH = "\u2013"  # shown for a missing value


def pretty_json(value: Any) -> str:
    """Indented JSON (autoescaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    """One-line JSON, for form fields."""
    return json.dumps(value, ensure_ascii=False, default=str)


def usd(value: float | Decimal | None) -> str:
    """A cost in dollars with enough digits for fractions of a cent."""
    if value is None:
        return DASH
    amount = float(value)
    return f"${amount:.2f}" if amount >= 1 else f"${amount:.6f}"


def ms(value: float | None) -> str:
    """A latency in milliseconds."""
    return DASH if value is None else f"{value:,.0f} ms"


def when(value: datetime | None) -> str:
    """A timestamp in UTC, to the second."""
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def pct(value: float | None) -> str:
    """A rate as a percentage."""
    return DASH if value is None else f"{value * 100:.0f}%"


def pointer_value(document: Any, pointer: str) -> str:
    """The value at a JSON Pointer as one-line JSON, or a dash when it is absent."""
    value = resolve(document, pointer)
    return DASH if value is MISSING else compact_json(value)


def install(env: Environment) -> None:
    """Register the filters on the templates' environment."""
    env.filters.update(
        {"pretty_json": pretty_json, "compact_json": compact_json, "usd": usd, "ms": ms}
    )
    env.filters.update({"when": when, "pct": pct, "pointer_value": pointer_value})
