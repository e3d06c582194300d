"""One schema, one reading: authoring, examples, inputs and outputs agree, whatever the schema.

Each test is a failure once seen: two readings of `multipleOf`, formats checked in one place
only, `$schema` ignored, remote references accepted, backtracking patterns, ECMA-262
patterns refused, reference cycles and deep values crashing the compiler.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.compiler.compiled import compile_spec
from app.compiler.document import InvalidDocument, content_hash, parse_document
from app.compiler.validation import SchemaValidator
from tests.factories import make_document

OBJECT: dict[str, Any] = {"type": "object"}


def _spec(output: dict[str, Any], **extra: Any) -> dict[str, Any]:
    document = make_document(output_schema=output)
    document.pop("examples", None)
    document.pop("tests", None)
    return {**document, **extra}


def _issues(document: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        parse_document(document)
    except InvalidDocument as exc:
        return [(i.pointer, i.message) for i in exc.issues]
    return []


PRICE: dict[str, Any] = {
    "type": "object",
    "properties": {"price": {"type": "number", "multipleOf": 0.01}},
}


@pytest.mark.parametrize("extra", [{}, {"pattern": "^x"}], ids=["plain", "with a pattern"])
def test_multiple_of_is_decided_on_the_numbers_as_written(extra: dict[str, Any]) -> None:
    schema = {**PRICE, "properties": {**PRICE["properties"], "note": {"type": "string", **extra}}}
    document = _spec(
        schema, examples=[{"input": {"subject": "a", "body": "b"}, "output": {"price": 19.99}}]
    )
    assert _issues(document) == []
    validator = SchemaValidator(schema)
    assert validator.issues({"price": 19.99}) == []
    assert validator.issues({"price": 0.07}) == []
    assert [i.pointer for i in validator.issues({"price": 19.995})] == ["/price"]


def test_examples_are_checked_with_formats_like_outputs() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    example = {"input": {"subject": "a", "body": "b"}, "output": {"email": "not an email"}}
    [(where, message)] = _issues(_spec(schema, examples=[example]))
    assert where == "/examples/0/output/email"
    assert "email" in message
    assert SchemaValidator(schema).issues({"email": "not an email"})


DRAFT7 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}},
    "dependencies": {"a": ["b"]},
}


def test_the_declared_dialect_is_honoured() -> None:
    assert _issues(_spec(DRAFT7)) == []  # tuple `items` is valid draft 7
    validator = SchemaValidator(DRAFT7)
    assert validator.issues({"pair": ["x", 1]}) == []
    assert [i.pointer for i in validator.issues({"pair": [1, "x"]})] == ["/pair/0", "/pair/1"]
    assert validator.issues({"a": 1}), "draft 7 `dependencies` applies"
    [(where, message)] = _issues(
        _spec({**DRAFT7, "$schema": "http://json-schema.org/draft-03/schema#"})
    )
    assert where == "/output_schema/$schema"
    assert "unsupported" in message


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("http://example.com/s.json", "inline"),
        ("other.json#/a", "inline"),
        ("#/$defs/nope", "names nothing"),
    ],
)
def test_references_outside_the_document_are_refused(ref: str, hint: str) -> None:
    schema = {"type": "object", "properties": {"x": {"$ref": ref}}}
    [(where, message)] = _issues(_spec(schema))
    assert where == "/output_schema/properties/x/$ref"
    assert hint in message


def test_a_backtracking_pattern_is_checked_in_linear_time() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    assert _issues(_spec(schema)) == []
    started = time.perf_counter()
    issues = SchemaValidator(schema).issues({"s": "a" * 41 + "!"})
    assert time.perf_counter() - started < 0.5
    assert [i.pointer for i in issues] == ["/s"]


def test_ecma_patterns_are_accepted_and_enforced() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": r"^\p{L}+$"}}}
    assert _issues(_spec(schema)) == []
    validator = SchemaValidator(schema)
    assert validator.issues({"s": "héllo"}) == []
    assert validator.issues({"s": "h3llo"})


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?<=a)b", "(a{10000}){10000}", "["])
def test_a_pattern_that_cannot_run_in_linear_time_is_refused(pattern: str) -> None:
    schema = {"type": "object", "patternProperties": {"^x": {"type": "string", "pattern": pattern}}}
    [(where, message)] = _issues(_spec(schema))
    assert where.startswith("/output_schema/patternProperties/^x")
    assert "linear time" in message


def test_a_reference_cycle_that_never_steps_into_the_value_is_refused() -> None:
    schema = {
        "type": "object",
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
        "properties": {"x": {"$ref": "#/$defs/a"}},
    }
    issues = _issues(_spec(schema))
    assert ("/output_schema/$defs/a", issues[0][1]) in issues
    assert "cycle" in issues[0][1]


def test_recursive_refs_through_properties_compile_and_decode() -> None:
    schema = {
        "type": "object",
        "properties": {"l": {"$ref": "#"}, "r": {"$ref": "#"}, "v": {"type": "integer"}},
        "required": ["v"],
        "additionalProperties": False,
    }
    document = parse_document(_spec(schema))
    compiled = compile_spec(document, content_hash(document))
    value = {"v": 1, "l": {"v": 2, "r": {"v": 3}}}
    assert SchemaValidator(schema).issues(value) == []
    assert compiled.strict_notes or compiled.strict  # compiled without raising


def test_a_schema_with_its_own_id_and_internal_refs_compiles() -> None:
    schema = {
        "$id": "https://example.com/schemas/out",
        "type": "object",
        "$defs": {"team": {"type": "string", "enum": ["billing", "sales"]}},
        "properties": {"team": {"$ref": "#/$defs/team"}},
        "required": ["team"],
        "additionalProperties": False,
    }
    inputs = {"$id": "https://example.com/schemas/in", **make_document()["input_schema"]}
    document = parse_document(_spec(schema, input_schema=inputs))
    compiled = compile_spec(document, content_hash(document))
    assert compiled.strict_notes == ("/: $id is not supported by strict mode",)
    assert SchemaValidator(schema).issues({"team": "billing"}) == []
    assert SchemaValidator(schema).issues({"team": "hr"})


def test_a_deep_value_under_a_recursive_schema_is_an_issue_not_a_crash() -> None:
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"multipleOf": 2}}}
    value: dict[str, Any] = {"n": 3}
    for _ in range(3000):
        value = {"child": value}
    [issue] = SchemaValidator(schema).issues(value)
    assert "levels deep" in issue.message


def test_a_long_in_place_chain_is_refused_before_it_can_exhaust_the_stack() -> None:
    defs: dict[str, Any] = {f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}]} for i in range(200)}
    defs["d200"] = {"type": "string"}
    schema = {"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}}
    issues = _issues(_spec(schema))
    assert issues
    assert all("in a row" in message for _, message in issues)


def test_a_stored_look_around_pattern_still_validates_in_bounded_time() -> None:
    """Versions saved before patterns had to be linear keep answering, and cannot hang."""
    schema = {
        "type": "object",
        "properties": {
            "p": {"type": "string", "pattern": "^(?=.*[A-Z]).+$"},
            "h": {"type": "string", "pattern": "^(?=a)(a+)+\\1$"},
        },
    }
    validator = SchemaValidator(schema)
    assert validator.issues({"p": "abC"}) == []
    assert [i.pointer for i in validator.issues({"p": "abc"})] == ["/p"]
    started = time.perf_counter()
    assert [i.pointer for i in validator.issues({"h": "a" * 5000 + "!"})] == ["/h"]
    assert time.perf_counter() - started < 0.5
