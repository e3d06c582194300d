"""The strict transform of schemas strict mode can carry: the exact strict form."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.compiler import make_strict

from .conftest import nested_objects, obj


@dataclass(frozen=True)
class Case:
    id: str
    schema: dict[str, Any]
    expected: dict[str, Any]


CASES = [
    Case(
        "all required",
        obj({"a": {"type": "string"}, "b": {"type": "integer", "minimum": 0}}, ["a", "b"]),
        obj({"a": {"type": "string"}, "b": {"type": "integer", "minimum": 0}}, ["a", "b"]),
    ),
    Case(
        "optional scalar becomes a nullable type list",
        obj({"a": {"type": "string", "pattern": "^x"}, "b": {"type": "number"}}, ["a"]),
        obj(
            {"a": {"type": "string", "pattern": "^x"}, "b": {"type": ["number", "null"]}},
            ["a", "b"],
        ),
    ),
    Case(
        "optional enum becomes anyOf with null",
        obj({"level": {"enum": ["low", "high"]}}, []),
        obj({"level": {"anyOf": [{"enum": ["low", "high"]}, {"type": "null"}]}}, ["level"]),
    ),
    Case(
        "nested optional object",
        obj({"who": obj({"name": {"type": "string"}, "age": {"type": "integer"}}, ["name"])}, []),
        obj(
            {
                "who": {
                    "anyOf": [
                        obj(
                            {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
                            ["name", "age"],
                        ),
                        {"type": "null"},
                    ]
                }
            },
            ["who"],
        ),
    ),
    Case(
        "array of objects",
        obj(
            {
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj({"k": {"type": "string"}, "v": {"type": "boolean"}}, ["k"]),
                }
            },
            ["items"],
        ),
        obj(
            {
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {"k": {"type": "string"}, "v": {"type": ["boolean", "null"]}}, ["k", "v"]
                    ),
                }
            },
            ["items"],
        ),
    ),
    Case(
        "enums, const and annotations (kept title/description, dropped default/examples)",
        obj(
            {
                "team": {"enum": ["a", "b"], "description": "Team.", "default": "a"},
                "kind": {"const": "ticket", "title": "Kind", "examples": ["ticket"]},
            },
            ["team", "kind"],
            **{"$comment": "internal", "x-owner": "ops"},
        ),
        obj(
            {
                "team": {"enum": ["a", "b"], "description": "Team."},
                "kind": {"const": "ticket", "title": "Kind"},
            },
            ["team", "kind"],
        ),
    ),
    Case(
        "local $defs and $ref, recursive",
        {
            "$defs": {
                "node": obj(
                    {
                        "label": {"type": "string"},
                        "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                    },
                    ["label"],
                )
            },
            **obj({"root": {"$ref": "#/$defs/node"}}, ["root"]),
        },
        {
            "$defs": {
                "node": obj(
                    {
                        "label": {"type": "string"},
                        "kids": {
                            "anyOf": [
                                {"type": "array", "items": {"$ref": "#/$defs/node"}},
                                {"type": "null"},
                            ]
                        },
                    },
                    ["label", "kids"],
                )
            },
            **obj({"root": {"$ref": "#/$defs/node"}}, ["root"]),
        },
    ),
    Case(
        "anyOf of decode-free branches is kept",
        obj({"v": {"anyOf": [{"type": "string"}, obj({"n": {"type": "integer"}}, ["n"])]}}, ["v"]),
        obj({"v": {"anyOf": [{"type": "string"}, obj({"n": {"type": "integer"}}, ["n"])]}}, ["v"]),
    ),
    Case(
        "supported format kept",
        obj({"when": {"type": "string", "format": "date-time"}}, ["when"]),
        obj({"when": {"type": "string", "format": "date-time"}}, ["when"]),
    ),
    Case("ten levels of nesting are allowed", nested_objects(10), nested_objects(10)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_strict_transform(case: Case) -> None:
    before = copy.deepcopy(case.schema)
    form = make_strict(case.schema)
    assert form.notes == ()
    assert form.strict
    assert form.schema == case.expected
    # Key order too: models generate properties in the order the schema lists them.
    assert list(form.schema["properties"]) == list(case.expected["properties"])
    assert case.schema == before, "the transform must not modify its input"
    Draft202012Validator.check_schema(form.schema)


def test_decoder_is_identity_when_not_strict() -> None:
    """Answers given under the original schema keep their nulls."""
    form = make_strict({"type": "object", "properties": {"a": {"type": ["string", "null"]}}})
    assert not form.strict
    assert form.decoder.decode({"a": None}) == {"a": None}


def test_decoder_drops_only_introduced_nulls_and_leaves_input_alone() -> None:
    schema = obj(
        {
            "req": {"type": ["string", "null"]},
            "opt": {"type": "string"},
            "list": {"type": "array", "items": obj({"x": {"type": "integer"}}, [])},
        },
        ["req", "list"],
    )
    form = make_strict(schema)
    assert form.strict, form.notes
    answer = {"req": None, "opt": None, "list": [{"x": None}, {"x": 2}]}
    snapshot = copy.deepcopy(answer)
    assert form.decoder.decode(answer) == {"req": None, "list": [{}, {"x": 2}]}
    assert answer == snapshot
