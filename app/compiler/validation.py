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

import jsonschema_rs

from app.core.errors import Issue
from app.jsonschema import ecma, engine
from app.jsonschema.refs import is_local, ref_of


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


# Keywords whose implementations differ between the two libraries (format checkers, exact
# multipleOf) or that jsonschema-rs may resolve differently ($dynamicRef, remote refs).
_UNSAFE = frozenset({"format", "multipleOf", "$dynamicRef", "$recursiveRef", "$dynamicAnchor"})


def _no_retrieval(uri: str) -> Any:
    raise ValueError(f"{uri}: references outside the document are not fetched")


def compiled(schema: dict[str, Any]) -> Any | None:
    """A jsonschema-rs validator for `schema`, or None where only jsonschema may judge."""
    if _mentions(schema, _UNSAFE) or _has_remote_ref(schema):
        return None
    try:
        return jsonschema_rs.validator_for(
            schema, pattern_options=ecma.OPTIONS, retriever=_no_retrieval
        )
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None


def _mentions(node: Any, keys: frozenset[str]) -> bool:
    # Any key anywhere counts, a property merely named "format" included: that only costs
    # the fast path, never correctness.
    if isinstance(node, dict):
        return any(k in keys or _mentions(v, keys) for k, v in node.items())
    if isinstance(node, list):
        return any(_mentions(item, keys) for item in node)
    return False


def _has_remote_ref(node: Any) -> bool:
    if isinstance(node, dict):
        ref = ref_of(node)
        if ref is not None and not is_local(ref):
            return True
        return any(_has_remote_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_remote_ref(item) for item in node)
    return False
