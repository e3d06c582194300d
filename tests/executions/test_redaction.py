"""Which values redaction replaces: every value a sensitive subschema describes, however the
schema reaches it (properties, items, local `$ref`s including the root, combinators)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.executions.redaction import REDACTED, redact

SECRET: dict[str, Any] = {"type": "string", "x-sensitive": True}


@dataclass(frozen=True)
class Case:
    name: str
    schema: dict[str, Any]
    value: Any
    expected: Any


CASES = [
    Case(
        "a property",
        {"type": "object", "properties": {"ssn": SECRET, "name": {"type": "string"}}},
        {"ssn": "123", "name": "Ada"},
        {"ssn": REDACTED, "name": "Ada"},
    ),
    Case(
        "items of an array",
        {"type": "object", "properties": {"codes": {"type": "array", "items": SECRET}}},
        {"codes": ["a", "b"]},
        {"codes": [REDACTED, REDACTED]},
    ),
    Case(
        "through $defs",
        {
            "type": "object",
            "properties": {"pin": {"$ref": "#/$defs/pin"}},
            "$defs": {"pin": SECRET},
        },
        {"pin": "0000"},
        {"pin": REDACTED},
    ),
    Case(
        "under a recursive field ($ref to the root)",
        {"type": "object", "properties": {"secret": SECRET, "child": {"$ref": "#"}}},
        {"secret": "a", "child": {"secret": "b", "child": {"secret": "c"}}},
        {"secret": REDACTED, "child": {"secret": REDACTED, "child": {"secret": REDACTED}}},
    ),
    Case(
        "a cycle of refs ends",
        {
            "type": "object",
            "properties": {"x": {"$ref": "#/$defs/a"}},
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
        },
        {"x": 1},
        {"x": 1},
    ),
    Case(
        "in one branch of anyOf",
        {"type": "object", "properties": {"v": {"anyOf": [{"type": "integer"}, SECRET]}}},
        {"v": "s"},
        {"v": REDACTED},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_redaction(case: Case) -> None:
    found: list[Any] = []
    assert redact(case.value, case.schema, found) == case.expected
    assert all(value != REDACTED for value in found)
