"""Validate JSON values against a spec's schemas and report issues as JSON Pointers.

jsonschema is the reference and the error reporter. Most values on the hot path are valid,
so where it is safe a compiled validator (jsonschema-rs, ~50x faster) answers "valid"
first; a value it rejects goes to jsonschema, whose verdict and messages stand. Safe means
the schema uses no keyword whose meaning the two libraries may implement differently
(formats, regular expressions): there, only jsonschema runs.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.compiler.words import in_words
from app.core.errors import Issue, pointer
from app.jsonschema.refs import is_local, ref_of

# jsonschema quotes the offending value in its messages; a 1 MB string must not end up in a
# problem+json body or a re-ask prompt.
MAX_MESSAGE_CHARS = 300


class SchemaValidator:
    """A JSON Schema (2020-12, formats asserted) compiled once and used for many values."""

    __slots__ = ("_fast", "_validator")

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        self._fast = compiled(schema)

    def issues(self, value: Any) -> list[Issue]:
        """Every way `value` breaks the schema, ordered by location then message."""
        if self._fast is not None:
            try:
                if self._fast.is_valid(value):
                    return []
            except (ValueError, TypeError, OverflowError):
                pass  # a value it cannot take (NaN, huge ints…): jsonschema decides
        errors = sorted(self._validator.iter_errors(value), key=_order)
        return [Issue(pointer(*error.absolute_path), _shorten(in_words(error))) for error in errors]


# Keywords whose implementations may differ between the two libraries (format checkers,
# regex dialects) or that jsonschema-rs may resolve differently ($dynamicRef, remote refs).
_UNSAFE = frozenset({"format", "pattern", "patternProperties", "$dynamicRef", "$recursiveRef"})


def compiled(schema: dict[str, Any]) -> Any | None:
    """A jsonschema-rs validator for `schema`, or None where only jsonschema may judge."""
    if _mentions(schema, _UNSAFE) or _has_remote_ref(schema):
        return None
    try:
        return jsonschema_rs.Draft202012Validator(schema)
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


def _order(error: ValidationError) -> tuple[tuple[tuple[int, int, str], ...], str]:
    # Array indexes sort numerically and before keys; mixed int/str parts cannot be compared.
    parts = tuple(
        (0, part, "") if isinstance(part, int) else (1, 0, str(part))
        for part in error.absolute_path
    )
    return parts, error.message


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    # The quoted value comes first and the reason last ("'…' is too long"): keep both ends.
    head = MAX_MESSAGE_CHARS * 2 // 3
    tail = MAX_MESSAGE_CHARS - head - 1
    return message[:head] + "…" + message[-tail:]
