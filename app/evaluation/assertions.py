"""The assertion engine: checks on one output, addressed by JSON Pointer. Pure functions.

An assertion may combine several checks on the same field (`min` and `max`, `equals` and
`tolerance`); it passes when all of them do. A field that is missing fails every check but
`exists: false`, and a check on a value of the wrong type fails with a message that says so,
rather than raising. `judge` rubrics need a model and are graded elsewhere; here they are
reported as not evaluated and never count as passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.compiler.document import Assertion
from app.jsonschema import ecma

_MISSING = object()
MISSING = _MISSING  # what `resolve` gives for a pointer to nothing


@dataclass(frozen=True)
class AssertionResult:
    """The outcome of one assertion on one output."""

    assertion: dict[str, Any]
    passed: bool
    actual: Any
    message: str
    evaluated: bool = True

    def public(self) -> dict[str, Any]:
        """The result as stored and served."""
        return {
            "assertion": self.assertion,
            "passed": self.passed,
            "actual": self.actual,
            "message": self.message,
            "evaluated": self.evaluated,
        }


def resolve(document: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (RFC 6901), or `_MISSING`."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return _MISSING
    current = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            if token not in current:
                return _MISSING
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
                return _MISSING
            index = int(token)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def is_number(value: Any) -> bool:
    """A JSON number: int or float, but not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON means it: 1 == 1.0, but true is not 1."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return bool(left == right)


def evaluate(assertion: Assertion, output: Any) -> AssertionResult:
    """Check one assertion against an output."""
    spec = assertion.model_dump(mode="json", exclude_unset=True)
    spec.setdefault("path", assertion.path)
    where = assertion.path or "the output"
    if assertion.judge is not None:
        return AssertionResult(
            spec, False, None, "judge rubrics are not evaluated yet; counted as failed", False
        )
    value = resolve(output, assertion.path)
    if value is _MISSING:
        if assertion.exists is False:
            return AssertionResult(spec, True, None, f"{where} is absent, as expected")
        return AssertionResult(spec, False, None, f"no field at {where}")
    failures = [f"{where}: {m}" for m in _failures(assertion, value)]
    return AssertionResult(spec, not failures, value, "; ".join(failures) or "ok")


def _failures(a: Assertion, value: Any) -> list[str]:
    """Why `value` fails each check the assertion makes, in the order they are written."""
    explicit = a.model_fields_set
    out: list[str] = []
    if a.exists is False:
        out.append("present, expected absent")
    if "equals" in explicit:
        out.extend(_equals(a.equals, a.tolerance, value))
    if a.one_of is not None and not any(json_equal(value, option) for option in a.one_of):
        out.append(f"{value!r} is not one of {a.one_of!r}")
    if a.matches is not None:
        out.extend(_matches(a.matches, value))
    if "contains" in explicit:
        out.extend(_contains(a.contains, value))
    out.extend(_bounds(a.min, a.max, value))
    if a.length is not None:
        out.extend(_length(a.length, value))
    return out


def _equals(expected: Any, tolerance: float | None, value: Any) -> list[str]:
    if tolerance is None:
        return [] if json_equal(value, expected) else [f"expected {expected!r}, got {value!r}"]
    if not (is_number(value) and is_number(expected)):
        return [f"expected a number within {tolerance} of {expected!r}"]
    if not math.isclose(value, expected, rel_tol=0, abs_tol=tolerance + 1e-12):
        return [f"{value!r} is not within {tolerance} of {expected!r}"]
    return []


def _matches(pattern: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"expected a string to match /{pattern}/, got {_kind(value)}"]
    if not ecma.search(pattern, value):
        return [f"{value!r} does not match /{pattern}/"]
    return []


def _bounds(low: float | None, high: float | None, value: Any) -> list[str]:
    out: list[str] = []
    for bound, label, sign in ((low, "at least", 1), (high, "at most", -1)):
        if bound is None:
            continue
        if not is_number(value):
            out.append(f"expected a number {label} {bound:g}, got {_kind(value)}")
        elif (value - bound) * sign < 0:
            out.append(f"{value!r} is not {label} {bound:g}")
    return out


def _length(length: int, value: Any) -> list[str]:
    if not isinstance(value, str | list):
        return [f"expected a string or array of length {length}, got {_kind(value)}"]
    if len(value) != length:
        return [f"length {len(value)}, expected {length}"]
    return []


def _contains(needle: Any, value: Any) -> list[str]:
    if isinstance(value, str):
        if not isinstance(needle, str):
            return [f"cannot look for {needle!r} in a string"]
        return [] if needle in value else [f"{value!r} does not contain {needle!r}"]
    if isinstance(value, list):
        if any(json_equal(item, needle) for item in value):
            return []
        return [f"{needle!r} is not an item of {value!r}"]
    return [f"expected a string or array containing {needle!r}, got {_kind(value)}"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def validate_patterns(assertions: list[Assertion]) -> list[tuple[int, str]]:
    """(index, message) of every assertion whose regex does not compile."""
    bad: list[tuple[int, str]] = []
    for index, assertion in enumerate(assertions):
        if assertion.matches is not None and ecma.compile_pattern(assertion.matches) is None:
            bad.append((index, f"{assertion.matches!r} is {ecma.REFUSED}"))
    return bad
