"""Checks when a spec is written: every bad expression is an issue pointing at its `assert`,
grounding markers sit on output strings only, examples pass the checks; and the helpers
checks may call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.compiler.checks import SpecChecks
from app.compiler.document import Check, InvalidDocument, parse_document
from app.compiler.grounding import grounded_fields, normalise
from tests.factories import make_document

ORDER_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start_date": {"type": "string", "format": "date"},
        "end_date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
        "line_items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"amount": {"type": "number"}, "sku": {"type": ["string", "null"]}},
                "required": ["amount", "sku"],
                "additionalProperties": False,
            },
        },
        "skills": {"type": "array", "items": {"type": "string", "x-grounded": True}},
    },
    "required": ["start_date", "end_date", "total", "line_items"],
    "additionalProperties": False,
}
ORDER_INPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
ORDER_EXAMPLE: dict[str, Any] = {
    "input": {"text": "Order from 2024-01-01 to 2024-02-01: Python, 10.50 and 20"},
    "output": {
        "start_date": "2024-01-01",
        "end_date": "2024-02-01",
        "total": 30.5,
        "line_items": [{"amount": 10.5, "sku": None}, {"amount": 20, "sku": "A-1"}],
        "skills": ["python"],
    },
}


def order_document(*checks: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "input_schema": ORDER_INPUT,
        "output_schema": ORDER_OUTPUT,
        "examples": [ORDER_EXAMPLE],
        "checks": list(checks),
    }
    return make_document("orders", **{**fields, **overrides})


def check(expression: str, **fields: Any) -> dict[str, Any]:
    return {"name": "c", "assert": expression, "message": "m", **fields}


@dataclass(frozen=True)
class Case:
    expression: str
    says: str


BAD = [
    Case("output.total ==", "not valid CEL"),
    Case("output.totl > 0", "no field 'totl'"),
    Case("output.line_items.all(i, i.price > 0)", "no field 'price'"),
    Case("output.end_date > 3", "cannot be compared"),
    Case("output.total.startsWith('1')", "does not apply to output.total"),
    Case("output.total", "must give true or false"),
    Case("input.text + 1 == 'x'", "cannot be combined"),
    Case("nobody.knows", "unknown name 'nobody'"),
    Case("output.total.frobnicate()", "unknown function 'frobnicate'"),
    Case("input.text.matches('(unclosed')", "not a valid regular expression"),
    Case("matches(input.text, '[z-a]')", "not a valid regular expression"),
    Case("!" * 1900 + "true", "nested too deeply"),
]
GOOD = [
    "output.end_date >= output.start_date",
    "output.line_items.map(i, i.amount).sum() == output.total",
    "approx(sum(output.line_items.map(i, i.amount)), output.total, 0.01)",
    "near(output.total, 30, 0.05) && output.line_items.all(i, i.sku == null || size(i.sku) > 0)",
    "output.skills.all(s, input.text.contains(s) || lower(input.text).contains(lower(s)))",
    "!has(output.skills) || output.skills.size() <= 10",
    "!input.text.matches('[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)+')",
]


@pytest.mark.parametrize("case", BAD, ids=[c.expression[:40] for c in BAD])
def test_a_bad_expression_is_an_issue_at_its_assert(case: Case) -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(order_document(check("true"), check(case.expression, name="bad")))
    [issue] = caught.value.issues
    assert issue.pointer == "/checks/1/assert"
    assert case.says in issue.message


@pytest.mark.parametrize("expression", GOOD)
def test_a_sound_expression_is_accepted(expression: str) -> None:
    document = parse_document(order_document(check(expression)))
    assert document.canonical()["checks"] == [check(expression)]


def test_an_example_that_fails_a_check_is_an_issue() -> None:
    broken = {**ORDER_EXAMPLE, "output": {**ORDER_EXAMPLE["output"], "total": 99}}
    with pytest.raises(InvalidDocument) as caught:
        parse_document(
            order_document(
                check("output.line_items.map(i, i.amount).sum() == output.total"),
                examples=[broken],
            )
        )
    [issue] = caught.value.issues
    assert issue.pointer == "/examples/0/output"
    assert "fails check 'c'" in issue.message


@pytest.mark.parametrize(
    ("marker", "where", "says"),
    [
        ({"min_similarity": 2}, "/output_schema/properties/skills/items/x-grounded", "at most 1"),
        ("yes", "/output_schema/properties/skills/items/x-grounded", "true, false or"),
    ],
)
def test_a_malformed_grounding_marker_is_an_issue(marker: Any, where: str, says: str) -> None:
    output = {**ORDER_OUTPUT, "properties": {**ORDER_OUTPUT["properties"]}}
    items = {"type": "string", "x-grounded": marker}
    output["properties"]["skills"] = {"type": "array", "items": items}
    with pytest.raises(InvalidDocument) as caught:
        parse_document(order_document(output_schema=output))
    assert [(i.pointer, says in i.message) for i in caught.value.issues] == [(where, True)]


def test_grounding_a_number_is_an_issue() -> None:
    output = {**ORDER_OUTPUT, "properties": {**ORDER_OUTPUT["properties"]}}
    output["properties"]["total"] = {"type": "number", "x-grounded": True}
    with pytest.raises(InvalidDocument) as caught:
        parse_document(order_document(output_schema=output))
    [issue] = caught.value.issues
    assert issue.pointer == "/output_schema/properties/total/x-grounded"


def test_check_names_are_unique_and_name_real_rules() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(order_document(check("true"), check("true", rules=[9])))
    assert [i.pointer for i in caught.value.issues] == ["/checks/1/name", "/checks/1/rules/0"]


def test_a_failing_evaluation_fails_the_check_with_the_reason() -> None:
    checks = SpecChecks(
        [Check.model_validate(check("output.missing > 0", name="needs-missing"))], {}
    )
    [failure] = checks.judge({}, {}, {"total": 1}).errors
    assert failure.check == "needs-missing"
    assert "no field 'missing'" in failure.message


def test_an_answer_nested_too_deeply_fails_the_checks_instead_of_raising() -> None:
    checks = SpecChecks([Check.model_validate(check("has(output.x)", name="x"))], {})
    deep: dict[str, Any] = {}
    for _ in range(5000):
        deep = {"x": deep}
    [failure] = checks.judge({}, {}, deep).errors
    assert "nested too deeply" in failure.message


def test_ints_and_doubles_compare_as_numbers() -> None:
    checks = SpecChecks(
        [Check.model_validate(check("output.line_items.map(i, i.amount).sum() == output.total"))],
        {},
    )
    output = {"total": 30, "line_items": [{"amount": 10.0}, {"amount": 20}]}
    assert checks.judge({}, {}, output).errors == ()


def test_a_recursive_output_schema_is_walked_once_per_path() -> None:
    tree = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "x-grounded": True},
            "left": {"$ref": "#"},
            "right": {"$ref": "#"},
        },
    }
    assert [f.path for f in grounded_fields(tree)] == [
        ("name",),
        ("left", "name"),
        ("right", "name"),
    ]


def test_normalise_folds_width_case_and_whitespace() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "KUBERNETES")
    assert normalise(f"  {full_width}\n\tand  Go ") == "kubernetes and go"


async def test_the_api_answers_422_pointing_at_the_assert(client: httpx.AsyncClient) -> None:
    checks = [check("output.priority == 'low'"), check("output.sumary != ''", name="d")]
    document = make_document(checks=checks)
    response = await client.post("/api/specs", json={"document": document})
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/document/checks/1/assert"]
    assert "no field 'sumary'" in response.json()["errors"][0]["message"]
