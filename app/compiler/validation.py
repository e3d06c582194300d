"""Validate JSON values against a spec's schemas and report issues as JSON Pointers.

jsonschema, built by `app.jsonschema.engine`, is the reference and the error reporter. Most
values on the hot path are valid, so where it is safe a compiled validator (jsonschema-rs,
~50x faster) answers "valid" first; a value it rejects goes to jsonschema, whose verdict and
messages stand. Safe means the schema uses no keyword the two libraries implement
differently: formats (different checkers), `multipleOf` (the engine decides it exactly, in
decimal; jsonschema-rs in binary floats) and dynamic references. Patterns are safe: the
engine matches them with jsonschema-rs's own linear-time ECMA-262 engine. That the two agree
everywhere else is property-tested (tests/compiler/test_fast_path_agrees.py) and checked on
every case of the JSON-Schema-Test-Suite (tests/conformance).
"""

from __future__ import annotations

from typing import Any

from app.core.errors import Issue
from app.jsonschema import engine
from app.jsonschema.fast import compiled

__all__ = ["SchemaValidator", "compiled"]


class SchemaValidator:
    """A JSON Schema (read as `engine.validator` reads it) compiled once for many values."""

    __slots__ = ("_fast", "_validator")

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = engine.validator(schema)
        self._fast = compiled(schema)

    def issues(self, value: Any) -> list[Issue]:
        """Every way `value` breaks the schema, ordered by location then message."""
        if self._fast is not None:
            try:
                if self._fast.is_valid(value):
                    return []
            except (ValueError, TypeError, OverflowError):
                pass  # a value it cannot take (NaN, huge ints…): jsonschema decides
        return engine.issues(self._validator, value)
