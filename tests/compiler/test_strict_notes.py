"""Schemas strict mode cannot carry exactly: one precise note per location, and why."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.compiler import make_strict

from .conftest import NO_EXTRA, nested_objects, obj


@dataclass(frozen=True)
class Case:
    id: str
    schema: dict[str, Any]
    notes: tuple[str, ...]


CASES = [
    Case(
        "string length",
        obj({"summary": {"type": "string", "minLength": 1, "maxLength": 280}}, ["summary"]),
        (
            "/properties/summary: minLength is not supported by strict mode",
            "/properties/summary: maxLength is not supported by strict mode",
        ),
    ),
    Case(
        "object and array keywords",
        obj(
            {
                "m": {
                    "type": "object",
                    "patternProperties": {"^x": {"type": "string"}},
                    **NO_EXTRA,
                },
                "t": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "c": {"type": "array", "items": {"type": "string"}, "contains": {"const": "x"}},
            },
            ["m", "t", "c"],
            minProperties=1,
            dependentRequired={"m": ["t"]},
        ),
        (
            "/: minProperties is not supported by strict mode",
            "/: dependentRequired is not supported by strict mode",
            "/properties/m: patternProperties is not supported by strict mode",
            "/properties/t: uniqueItems is not supported by strict mode",
            "/properties/c: contains is not supported by strict mode",
        ),
    ),
    Case(
        "composition keywords",
        obj(
            {
                "a": {"type": "string", "not": {"const": "x"}},
                "b": {"type": "integer", "allOf": [{"minimum": 1}]},
                "c": {"type": "integer", "if": {"minimum": 5}, "then": {"multipleOf": 5}},
                "d": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            },
            ["a", "b", "c", "d"],
            unevaluatedProperties=False,
        ),
        (
            "/: unevaluatedProperties is not supported by strict mode",
            "/properties/a: not is not supported by strict mode",
            "/properties/b: allOf is not supported by strict mode",
            "/properties/c: if is not supported by strict mode",
            "/properties/c: then is not supported by strict mode",
            "/properties/d: no type: strict mode needs every schema to state its type",
            "/properties/d: oneOf is not supported by strict mode",
        ),
    ),
    Case(
        "additionalProperties absent allows extra keys",
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        (
            "/: additionalProperties is absent, so the contract allows extra keys and strict "
            'mode would forbid them; add "additionalProperties": false',
        ),
    ),
    Case(
        "additionalProperties true",
        obj({"a": {"type": "string"}}, ["a"], additionalProperties=True),
        ("/: additionalProperties must be false in strict mode",),
    ),
    Case(
        "additionalProperties schema",
        obj({}, [], additionalProperties={"type": "string"}),
        ("/: additionalProperties must be false in strict mode",),
    ),
    Case(
        "optional property that already accepts null",
        obj({"a": {"type": ["string", "null"]}}, []),
        (
            "/properties/a: optional and already accepts null: strict mode cannot tell a "
            "missing value from null",
        ),
    ),
    Case(
        "anyOf over optional properties",
        obj({"v": {"anyOf": [obj({"a": {"type": "string"}}, []), {"type": "string"}]}}, ["v"]),
        (
            "/properties/v: anyOf would see the nulls strict mode adds for optional properties, "
            "so the strict form would accept different documents",
        ),
    ),
    Case(
        "enum over an object with optional properties",
        obj({"v": {**obj({"a": {"type": "string"}}, []), "enum": [{}]}}, ["v"]),
        (
            "/properties/v: enum would see the nulls strict mode adds for optional properties, "
            "so the strict form would accept different documents",
        ),
    ),
    Case(
        "root anyOf",
        {"type": "object", "anyOf": [obj({}, [])], **NO_EXTRA},
        ("/anyOf: the root must not be anyOf in strict mode",),
    ),
    Case(
        "unsupported format, untyped and item-less",
        obj(
            {"u": {"type": "string", "format": "uri"}, "any": {}, "list": {"type": "array"}},
            ["u", "any", "list"],
        ),
        (
            "/properties/u: format 'uri' is not supported by strict mode",
            "/properties/any: no type: strict mode needs every schema to state its type",
            "/properties/list: an array needs items in strict mode",
        ),
    ),
    Case(
        "refs outside $defs, next to other keywords, or dangling",
        {
            "$defs": {"s": {"type": "string"}},
            **obj(
                {
                    "a": {"type": "string"},
                    "b": {"$ref": "#/properties/a"},
                    "c": {"$ref": "#/$defs/s", "pattern": "^x"},
                    "d": {"$ref": "#/$defs/missing"},
                },
                ["a", "b", "c", "d"],
            ),
        },
        (
            "/properties/b: $ref '#/properties/a' is not supported: use #, #/$defs/NAME or "
            "#/definitions/NAME",
            "/properties/c: $ref next to pattern is not supported by strict mode",
            "/properties/d: $ref target '#/$defs/missing' does not exist",
        ),
    ),
    Case(
        "required names a property that is not declared",
        obj({"a": {"type": "string"}}, ["a", "b"]),
        ("/required: 'b' is required but not in properties",),
    ),
    Case(
        "boolean subschema",
        obj({"a": True}, ["a"]),
        ("/properties/a: boolean schemas are not supported by strict mode",),
    ),
    Case(
        "eleven levels of nesting",
        nested_objects(11),
        ("/: 11 levels of object nesting; strict mode allows 10",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_strict_transform(case: Case) -> None:
    before = copy.deepcopy(case.schema)
    form = make_strict(case.schema)
    assert form.notes == case.notes
    assert not form.strict
    assert form.decoder.decode({"a": None}) == {"a": None}, "no decoding without strict"
    assert case.schema == before, "the transform must not modify its input"


def test_absent_additional_properties_really_narrows() -> None:
    """The note is needed: the would-be strict form rejects a document the contract allows."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    document = {"a": "x", "extra": 1}
    assert Draft202012Validator(schema).is_valid(document)
    assert not Draft202012Validator(make_strict(schema).schema).is_valid(document)


def test_nullable_optional_really_loses_information() -> None:
    """The note is needed: {} and {"a": null} would both be encoded as {"a": null}."""
    schema = obj({"a": {"type": ["string", "null"]}}, [])
    form = make_strict(schema)
    strict_validator = Draft202012Validator(form.schema)
    assert strict_validator.is_valid({"a": None})
    assert not strict_validator.is_valid({})
