"""Assertions are checked against the output schema when a case is saved: a path no valid
output has, or a value its field can never hold, is refused with a pointer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from app.compiler.assertion_paths import assertion_issues
from app.compiler.document import Assertion
from tests.factories import create_spec, make_document

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"enum": ["approve", "reject"]},
        "score": {"type": "number"},
        "items": {
            "type": "array",
            "maxItems": 3,
            "items": {"$ref": "#/$defs/item"},
        },
        "meta": {"type": "object", "additionalProperties": {"type": "string"}},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}], "items": False},
        "either": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"x": {}}}]},
    },
    "required": ["decision"],
    "additionalProperties": False,
    "$defs": {
        "item": {
            "type": "object",
            "properties": {"sku": {"type": "string", "pattern": "^SKU-"}},
        }
    },
}


def problems(*assertions: dict[str, Any]) -> list[tuple[str, str]]:
    parsed = [Assertion.model_validate(a) for a in assertions]
    return [(i.pointer, i.message) for i in assertion_issues(Draft202012Validator(SCHEMA), parsed)]


@pytest.mark.parametrize(
    "assertion",
    [
        {"path": "", "exists": True},
        {"path": "/decision", "equals": "approve"},
        {"path": "/decision", "one_of": ["approve", "reject"]},
        {"path": "/items/2/sku", "equals": "SKU-1"},
        {"path": "/meta/anything", "equals": "text"},
        {"path": "/pair/0", "equals": "a"},
        {"path": "/either/x", "exists": True},
        {"path": "/score", "min": 0},
    ],
)
def test_paths_and_values_the_schema_allows_pass(assertion: dict[str, Any]) -> None:
    assert problems(assertion) == []


@pytest.mark.parametrize(
    ("assertion", "where"),
    [
        ({"path": "/decison", "equals": "approve"}, "/0/path"),  # the typo
        ({"path": "/items/3/sku", "exists": True}, "/0/path"),  # beyond maxItems
        ({"path": "/items/0/price", "exists": True}, "/0/path"),  # not in the $ref'd item
        ({"path": "/pair/1", "exists": True}, "/0/path"),  # items: false
        ({"path": "/decision/0", "exists": True}, "/0/path"),  # inside a string
        ({"path": "decision", "exists": True}, "/0/path"),  # not a pointer
        ({"path": "/decision", "equals": "approved"}, "/0/equals"),
        ({"path": "/decision", "one_of": ["approve", "maybe"]}, "/0/one_of/1"),
        ({"path": "/items/0/sku", "equals": "1"}, "/0/equals"),  # the $ref'd pattern
    ],
)
def test_paths_and_values_no_valid_output_has_are_refused(
    assertion: dict[str, Any], where: str
) -> None:
    found = problems(assertion)
    assert [p for p, _ in found] == [where]


async def test_saving_a_case_with_a_typo_in_a_path_is_a_422_with_a_pointer(
    client: httpx.AsyncClient,
) -> None:
    await create_spec(client)
    body = {
        "name": "typo",
        "input": {"subject": "Refund", "body": "charged twice"},
        "expect": [{"path": "/team", "equals": "billing"}, {"path": "/teem", "equals": "x"}],
    }
    response = await client.post("/api/specs/ticket-triage/cases", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [i["pointer"] for i in response.json()["errors"]] == ["/expect/1/path"]
    listed = await client.get("/api/specs/ticket-triage/cases")
    assert listed.json()["items"] == []


async def test_a_spec_file_test_asserting_an_impossible_value_is_refused(
    client: httpx.AsyncClient,
) -> None:
    document = make_document(
        tests=[
            {
                "name": "urgent",
                "input": {"subject": "Breach", "body": "data leaked"},
                "expect": [{"path": "/priority", "equals": "critical"}],
            }
        ]
    )
    response = await client.post("/api/specs", json={"document": document})
    assert response.status_code == 422
    pointers = [i["pointer"] for i in response.json()["errors"]]
    assert pointers == ["/document/tests/0/expect/0/equals"]
