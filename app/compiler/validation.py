"""Validate JSON values against a spec's schemas and report issues as JSON Pointers."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.registry.document import Issue, pointer

# jsonschema quotes the offending value in its messages; a 1 MB string must not end up in a
# problem+json body or a re-ask prompt.
MAX_MESSAGE_CHARS = 300


class SchemaValidator:
    """A JSON Schema (2020-12, formats asserted) compiled once and used for many values."""

    __slots__ = ("_validator",)

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def issues(self, value: Any) -> list[Issue]:
        """Every way `value` breaks the schema, ordered by location then message."""
        errors = sorted(self._validator.iter_errors(value), key=_order)
        return [Issue(pointer(*error.absolute_path), _shorten(error.message)) for error in errors]


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
