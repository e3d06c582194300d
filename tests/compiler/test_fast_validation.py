"""The compiled fast path of `SchemaValidator` never changes a verdict or a message.

jsonschema-rs may only say "valid" first; the property that makes that safe — whenever it
accepts a value, jsonschema accepts it too — is checked on table cases and on random JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.compiler.validation import SchemaValidator, compiled
from app.jsonschema import engine
from app.jsonschema.words import in_words
from tests.factories import make_document

TRIAGE_OUT = make_document()["output_schema"]
NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {"$ref": "#/$defs/item"},
            "minItems": 1,
            "uniqueItems": True,
        },
        "total": {"type": "number", "minimum": 0, "exclusiveMaximum": 1000},
        "kind": {"const": "order"},
        "note": {"type": ["string", "null"], "maxLength": 5},
        "extra": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
    },
    "required": ["items", "total"],
    "additionalProperties": False,
    "$defs": {
        "item": {
            "type": "object",
            "properties": {"sku": {"type": "string", "minLength": 1}, "qty": {"type": "integer"}},
            "required": ["sku", "qty"],
            "unevaluatedProperties": False,
        }
    },
}
# Patterns take the fast path: both sides match them with the same ECMA-262 engine.
PATTERNS: dict[str, Any] = {
    "type": "object",
    "properties": {"team": {"type": "string", "pattern": "^\\p{L}+$"}, "k": {"pattern": "\\d"}},
    "patternProperties": {"^s": {"type": "string", "maxLength": 3}},
    "additionalProperties": {"type": "integer"},
}
# Draft 7 reads `items` as a tuple and knows `dependencies`; 2020-12 would ignore both.
DRAFT7: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"items": {"items": [{"type": "string"}], "additionalItems": False}},
    "dependencies": {"team": ["priority"], "k": {"required": ["total"]}},
}
SCHEMAS = [TRIAGE_OUT, NESTED, PATTERNS, DRAFT7]


def reference(schema: dict[str, Any], value: Any) -> list[tuple[str, str]]:
    """jsonschema alone (as the engine builds it): (path, message in words) of every error."""
    validator = engine.validator(schema)
    return sorted(
        ("/".join(map(str, e.absolute_path)), in_words(e)) for e in validator.iter_errors(value)
    )


@dataclass(frozen=True)
class Case:
    name: str
    schema: dict[str, Any]
    value: Any


CASES = [
    Case("valid triage", TRIAGE_OUT, {"team": "billing", "priority": "low", "summary": "x"}),
    Case("enum miss", TRIAGE_OUT, {"team": "hr", "priority": "low", "summary": "x"}),
    Case("missing and extra", TRIAGE_OUT, {"team": "billing", "oops": 1}),
    Case("too long", TRIAGE_OUT, {"team": "sales", "priority": "low", "summary": "y" * 281}),
    Case("not an object", TRIAGE_OUT, ["team"]),
    Case("valid nested", NESTED, {"items": [{"sku": "a", "qty": 2}], "total": 3.5}),
    Case("1.0 is an integer", NESTED, {"items": [{"sku": "a", "qty": 1.0}], "total": 0}),
    Case("true is not an integer", NESTED, {"items": [{"sku": "a", "qty": True}], "total": 0}),
    Case("duplicate items", NESTED, {"items": [{"sku": "a", "qty": 1}] * 2, "total": 1}),
    Case("unevaluated property", NESTED, {"items": [{"sku": "a", "qty": 1, "z": 0}], "total": 1}),
    Case("exclusive maximum", NESTED, {"items": [{"sku": "a", "qty": 1}], "total": 1000}),
    Case("oneOf both", NESTED, {"items": [{"sku": "a", "qty": 1}], "total": 1, "extra": 1}),
    Case("NaN", NESTED, {"items": [{"sku": "a", "qty": 1}], "total": float("nan")}),
    Case("huge int", NESTED, {"items": [{"sku": "a", "qty": 10**40}], "total": 1}),
    Case("const", NESTED, {"items": [{"sku": "a", "qty": 1}], "total": 1, "kind": "refund"}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_and_messages_are_jsonschemas(case: Case) -> None:
    assert compiled(case.schema) is not None, "these schemas take the fast path"
    got = SchemaValidator(case.schema).issues(case.value)
    want = reference(case.schema, case.value)
    assert sorted((i.pointer.lstrip("/"), i.message) for i in got) == want


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}},
        {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 0.01}}},
        {"type": "object", "properties": {"r": {"$ref": "https://example.com/s.json"}}},
    ],
)
def test_schemas_the_libraries_may_read_differently_use_jsonschema_only(
    schema: dict[str, Any],
) -> None:
    assert compiled(schema) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["billing", "low", "order", "a", "", "é", "a\n", "٣", "x1"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["team", "priority", "summary", "items", "total", "sku", "qty", "k", "s1"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, which=st.integers(min_value=0, max_value=len(SCHEMAS) - 1))
def test_whatever_the_fast_path_accepts_jsonschema_accepts(value: Any, which: int) -> None:
    schema = SCHEMAS[which]
    fast = compiled(schema)
    assert fast is not None
    if fast.is_valid(value):
        assert reference(schema, value) == []
    got = SchemaValidator(schema).issues(value)
    assert sorted(i.pointer.lstrip("/") for i in got) == [
        path for path, _ in reference(schema, value)
    ]
