"""The one way Specloom builds a JSON Schema validator, so every part reads a schema alike.

Document checks, examples, inputs, outputs, test assertions, the strict-mode transform and the
offline model all call `validator(schema)`. It:

* honours the schema's `$schema` (2020-12, 2019-09, draft-07, -06, -04; none means 2020-12;
  any other is refused at authoring by `dialect_of`);
* asserts `format` (the dialect's own checker: the generic one mixes drafts), with `regex`
  meaning a linear-time ECMA-262 pattern;
* reads `pattern`/`patternProperties` as ECMA-262 in linear time (see `ecma`);
* decides `multipleOf` exactly, on the numbers as written: 19.99 is a multiple of 0.01,
  while binary floating point says it is not;
* resolves `$ref` only inside the document and the bundled metaschemas: its registry has no
  way to retrieve anything, so a remote reference is an error, never a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import referencing
import referencing.exceptions
from jsonschema import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from app.core.errors import Issue, pointer
from app.jsonschema import ecma
from app.jsonschema.words import in_words

_BASES: tuple[type[Validator], ...] = (
    Draft202012Validator,
    Draft201909Validator,
    Draft7Validator,
    Draft6Validator,
    Draft4Validator,
)


def _uri_key(uri: str) -> str:
    """`$schema` URIs compare without the empty fragment and scheme (`http`/`https`)."""
    return uri.rstrip("#").split("://", 1)[-1]


def _multiple_of(validator: Validator, step: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "number") and not is_multiple(instance, step):
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


def _exact(number: int | float) -> Fraction:
    # repr() is the shortest text that reads back as the same float: the number as written.
    return Fraction(number) if isinstance(number, int) else Fraction(repr(number))


def is_multiple(value: int | float, step: int | float) -> bool:
    """Whether `value` is an integer multiple of `step`, decided exactly (not in binary floats);
    infinities and NaN are multiples of nothing."""
    try:
        quotient = _exact(value) / _exact(step)
    except (ValueError, OverflowError, ZeroDivisionError):
        return False
    return quotient.denominator == 1


def _format_checker(base: type[Validator]) -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers = dict(base.FORMAT_CHECKER.checkers)
    checker.checkers["regex"] = (ecma.is_regex, ())
    return checker


_KEYWORDS = {
    "pattern": ecma.pattern,
    "patternProperties": ecma.pattern_properties,
    "additionalProperties": ecma.additional_properties,
    "multipleOf": _multiple_of,
}


def _extended(base: type[Validator]) -> type[Validator]:
    keywords = dict(_KEYWORDS)
    if base is Draft202012Validator:
        keywords["unevaluatedProperties"] = ecma.unevaluated_properties
    extended: type[Validator] = extend(base, keywords)  # type: ignore[no-untyped-call]
    return extended


_CLASSES: dict[str, tuple[type[Validator], FormatChecker]] = {
    _uri_key(str(base.META_SCHEMA.get("$id") or base.META_SCHEMA.get("id"))): (
        _extended(base),
        _format_checker(base),
    )
    for base in _BASES
}
_DEFAULT = _CLASSES[_uri_key(str(Draft202012Validator.META_SCHEMA["$id"]))]
DIALECTS = tuple(sorted(_CLASSES))

# No `retrieve`: a reference outside the document and the bundled metaschemas is Unresolvable.
_REGISTRY: referencing.Registry[Any] = referencing.Registry()
Unresolvable = referencing.exceptions.Unresolvable


def dialect_of(schema: Any) -> tuple[type[Validator], FormatChecker] | None:
    """The validator class and format checker of the schema's `$schema`; None if unknown."""
    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if declared is None:
        return _DEFAULT
    if not isinstance(declared, str):
        return None
    return _CLASSES.get(_uri_key(declared))


def validator(schema: Any) -> Validator:
    """A validator for `schema` as described above (unknown `$schema`: read as 2020-12, which
    authoring never lets through)."""
    cls, checker = dialect_of(schema) or _DEFAULT
    return cls(schema, format_checker=checker, registry=_REGISTRY)


# jsonschema recurses once per level of the value (a few frames each); deeper values are
# refused before they can exhaust the stack.
MAX_VALUE_DEPTH = 64
# jsonschema quotes the offending value in its messages; a 1 MB string must not end up in a
# problem+json body or a re-ask prompt.
MAX_MESSAGE_CHARS = 300


def issues(checker: Validator, value: Any) -> list[Issue]:
    """Every way `value` breaks `checker`'s schema, ordered by location then message."""
    if depth_exceeds(value, MAX_VALUE_DEPTH):
        return [Issue("", f"nested more than {MAX_VALUE_DEPTH} levels deep")]
    try:
        errors = sorted(checker.iter_errors(value), key=_order)
    except RecursionError:  # a schema that recurses in place despite authoring's checks
        return [Issue("", "too deeply nested for this schema")]
    # In words that name the limit broken: these messages reach callers and re-ask prompts.
    return [Issue(pointer(*error.absolute_path), _shorten(in_words(error))) for error in errors]


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels in `value` (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            if level >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
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
