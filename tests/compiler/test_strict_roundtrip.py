"""The equivalence claim behind `strict=True`, checked on generated documents.

For each schema the compiler calls strict:
* every document of the original schema, encoded for strict mode (missing optional
  properties set to null, by an encoder written here independently of the compiler), is valid
  under the strict form, and `decode` gives the document back;
* every document of the strict form decodes to a document of the original schema.
Together: strict form then decode accepts exactly the original's documents.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from app.compiler import make_strict

from .conftest import obj

FORMATS = Draft202012Validator.FORMAT_CHECKER
PROFILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def documents(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Documents of a schema; from_schema rewrites the schema it gets, so it gets a copy."""
    return from_schema(copy.deepcopy(schema), custom_formats={"uuid": st.uuids().map(str)})


SCHEMAS: dict[str, dict[str, Any]] = {
    "all required": obj(
        {"team": {"enum": ["billing", "sales"]}, "score": {"type": "integer", "minimum": 0}},
        ["team", "score"],
    ),
    "optional scalars with formats and bounds": obj(
        {
            "id": {"type": "string", "format": "uuid"},
            "when": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "step": {"type": "integer", "multipleOf": 5},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "flag": {"type": "boolean"},
        },
        ["id"],
    ),
    "optional enum and const": obj(
        {"level": {"enum": ["low", "high", 3]}, "kind": {"const": "ticket"}}, []
    ),
    "nested optional objects": obj(
        {
            "who": obj(
                {"name": {"type": "string"}, "address": obj({"city": {"type": "string"}}, [])},
                ["name"],
            ),
            "note": {"type": "string"},
        },
        [],
    ),
    "arrays of objects": obj(
        {
            "lines": {
                "type": "array",
                "maxItems": 4,
                "items": obj({"sku": {"type": "string"}, "qty": {"type": "integer"}}, ["sku"]),
            },
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        },
        ["lines"],
    ),
    "required nullable and type lists": obj(
        {
            "maybe": {"type": ["string", "null"]},
            "num_or_text": {"type": ["number", "string"]},
            "opt_num_or_text": {"type": ["integer", "boolean"]},
        },
        ["maybe", "num_or_text"],
    ),
    "anyOf with decode-free branches": obj(
        {
            "value": {"anyOf": [{"type": "string"}, obj({"n": {"type": "integer"}}, ["n"])]},
            "opt": {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]},
        },
        ["value"],
    ),
    "local $defs": {
        "$defs": {
            "money": obj({"amount": {"type": "number"}, "currency": {"enum": ["EUR"]}}, ["amount"])
        },
        **obj({"price": {"$ref": "#/$defs/money"}, "tax": {"$ref": "#/$defs/money"}}, ["price"]),
    },
}


def encode(schema: Any, value: Any, root: dict[str, Any]) -> Any:
    """Strict-mode spelling of a valid document: every absent optional property is null."""
    if not isinstance(schema, dict):
        return value
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return encode(root["$defs"][name], value, root)
    properties = schema.get("properties")
    if isinstance(value, dict) and properties is not None:
        out = {k: encode(properties.get(k), v, root) for k, v in value.items()}
        for name in properties:
            out.setdefault(name, None)
        return out
    if isinstance(value, list) and "items" in schema:
        return [encode(schema["items"], item, root) for item in value]
    return value


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_original_document_survives_the_round_trip(name: str) -> None:
    schema = SCHEMAS[name]
    form = make_strict(schema)
    assert form.strict, form.notes
    original = Draft202012Validator(schema, format_checker=FORMATS)
    strict = Draft202012Validator(form.schema, format_checker=FORMATS)

    @PROFILE
    @given(documents(schema))
    def check(document: Any) -> None:
        assert original.is_valid(document)
        encoded = encode(schema, document, schema)
        assert strict.is_valid(encoded), list(strict.iter_errors(encoded))
        assert form.decoder.decode(encoded) == document

    check()


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_strict_document_decodes_to_an_original_one(name: str) -> None:
    schema = SCHEMAS[name]
    form = make_strict(schema)
    original = Draft202012Validator(schema, format_checker=FORMATS)

    @PROFILE
    @given(documents(form.schema))
    def check(answer: Any) -> None:
        decoded = form.decoder.decode(answer)
        assert original.is_valid(decoded), list(original.iter_errors(decoded))
        # Nothing is lost either: decoding is one-to-one on strict documents.
        assert encode(schema, decoded, schema) == answer

    check()
