"""The structured-output pipeline: extraction, repair, decoding and validation of replies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.core.errors import Issue, pointer
from app.serving.output import OutputOutcome, OutputStage, parse_output

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "technical", "sales", "security"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "summary": {"type": "string", "maxLength": 280},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["team", "priority", "summary"],
    "additionalProperties": False,
}
GOOD = {"team": "billing", "priority": "normal", "summary": "Double charge"}
GOOD_JSON = json.dumps(GOOD)

_validator = Draft202012Validator(SCHEMA)


def validate(value: Any) -> list[Issue]:
    """A validator as the runtime builds one: every error, addressed by JSON Pointer."""
    return [Issue(pointer(*e.absolute_path), e.message) for e in _validator.iter_errors(value)]


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    stage: OutputStage
    value: dict[str, Any] | None = None
    pointers: tuple[str, ...] = ()  # issue pointers expected (subset)
    message: str = ""  # substring of some issue message
    extracted: str | None = field(default=None)


CASES = [
    Case("valid", GOOD_JSON, "valid", GOOD, extracted=GOOD_JSON),
    Case("valid with whitespace", f"\n  {GOOD_JSON}  \n", "valid", GOOD, extracted=GOOD_JSON),
    Case("fenced json", f"```json\n{GOOD_JSON}\n```", "valid", GOOD, extracted=GOOD_JSON),
    Case("fenced without language", f"```\n{GOOD_JSON}\n```", "valid", GOOD),
    Case("fenced on one line", f"```json {GOOD_JSON}```", "valid", GOOD),
    Case(
        "prose around",
        f"Sure! Here is the triage:\n{GOOD_JSON}\nLet me know if you need more.",
        "valid",
        GOOD,
        extracted=GOOD_JSON,
    ),
    Case("prose and fence", f"Here you go:\n```json\n{GOOD_JSON}\n```\nDone.", "valid", GOOD),
    Case(
        "two objects: the first wins",
        '{"team": "sales", "priority": "low", "summary": "a"} {"team": "billing", '
        '"priority": "high", "summary": "b"}',
        "valid",
        {"team": "sales", "priority": "low", "summary": "a"},
    ),
    Case(
        "two objects: the first valid one wins",
        'Input was {"subject": "x"}; answer: ' + GOOD_JSON,
        "valid",
        GOOD,
        extracted=GOOD_JSON,
    ),
    Case(
        "braces inside strings",
        'Result: {"team": "technical", "priority": "high", "summary": "use } and { and \\" here"}',
        "valid",
        {"team": "technical", "priority": "high", "summary": 'use } and { and " here'},
    ),
    Case(
        "trailing comma",
        '{"team": "billing", "priority": "low", "summary": "x",}',
        "repaired",
        {"team": "billing", "priority": "low", "summary": "x"},
    ),
    Case(
        "single quotes",
        "{'team': 'billing', 'priority': 'low', 'summary': 'it is {fine}'}",
        "repaired",
        {"team": "billing", "priority": "low", "summary": "it is {fine}"},
    ),
    Case(
        "unquoted keys",
        '{team: "billing", priority: "low", summary: "x"}',
        "repaired",
        {"team": "billing", "priority": "low", "summary": "x"},
    ),
    Case(
        "truncated",
        '{"team": "billing", "priority": "urgent", "summary": "Card charged tw',
        "repaired",
        {"team": "billing", "priority": "urgent", "summary": "Card charged tw"},
    ),
    Case(
        "truncated inside an unclosed fence",
        'Answer:\n```json\n{"team": "sales", "priority": "low", "summary": "ok", "tags": ["a"',
        "repaired",
        {"team": "sales", "priority": "low", "summary": "ok", "tags": ["a"]},
    ),
    Case(
        "python literals",
        "{'team': 'billing', 'priority': 'low', 'summary': 'x', 'tags': None}",
        "schema_invalid",
        pointers=("/tags",),
    ),
    Case("empty string", "", "unparseable", message="no text"),
    Case("only whitespace", "  \n ", "unparseable", message="no text"),
    Case("plain prose", "I am sorry, I cannot help with that.", "unparseable", message="no JSON"),
    Case("array root", f"[{GOOD_JSON}]", "unparseable", message="not an array"),
    Case("fenced array root", f"```json\n[{GOOD_JSON}]\n```", "unparseable", message="array"),
    Case("string root", '"billing"', "unparseable", message="not a string"),
    Case("number root", "42", "unparseable", message="not a number"),
    Case("brace soup", "{{{ }}} {", "unparseable", message="could not recover"),
    Case(
        "wrong types",
        '{"team": "finance", "priority": 3, "summary": ["x"]}',
        "schema_invalid",
        pointers=("/team", "/priority", "/summary"),
    ),
    Case(
        "missing required field",
        '{"team": "billing", "priority": "low"}',
        "schema_invalid",
        pointers=("",),
        message="'summary' is a required property",
    ),
    Case(
        "nested wrong type",
        '{"team": "billing", "priority": "low", "summary": "x", "tags": ["ok", 7]}',
        "schema_invalid",
        pointers=("/tags/1",),
    ),
    Case(
        "unexpected property",
        '{"team": "billing", "priority": "low", "summary": "x", "mood": "happy"}',
        "schema_invalid",
        message="Additional properties",
    ),
    Case(
        "repaired but invalid",
        "{'team': 'billing',}",
        "schema_invalid",
        message="required property",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parse_output(case: Case) -> None:
    outcome = parse_output(case.text, validate)

    assert outcome.stage == case.stage, outcome.issues
    assert outcome.ok == (case.stage in ("valid", "repaired"))
    if outcome.ok:
        assert outcome.value == case.value
        assert outcome.issues == ()
        assert not validate(outcome.value)
    else:
        assert outcome.value is None
        assert outcome.issues
    found = {issue.pointer for issue in outcome.issues}
    assert set(case.pointers) <= found, outcome.issues
    if case.message:
        assert any(case.message in issue.message for issue in outcome.issues), outcome.issues
    if case.extracted is not None:
        assert outcome.extracted == case.extracted
    if case.stage == "unparseable":
        assert all(issue.pointer == "" for issue in outcome.issues)


def test_schema_invalid_keeps_the_extracted_text() -> None:
    text = 'Here: {"team": "x", "priority": "low", "summary": "s"} thanks'
    outcome = parse_output(text, validate)
    assert outcome.stage == "schema_invalid"
    assert outcome.extracted == '{"team": "x", "priority": "low", "summary": "s"}'


def test_decode_runs_before_validation() -> None:
    # A strict-mode transform made every property required and nullable; decode drops nulls.
    def drop_nulls(value: Any) -> Any:
        return {k: v for k, v in value.items() if v is not None}

    text = '{"team": "sales", "priority": "low", "summary": "s", "tags": null}'
    assert parse_output(text, validate).stage == "schema_invalid"
    outcome = parse_output(text, validate, drop_nulls)
    assert outcome == OutputOutcome(
        "valid", {"team": "sales", "priority": "low", "summary": "s"}, (), text
    )


def test_decode_failure_is_schema_invalid() -> None:
    def picky(value: Any) -> Any:
        return value["wrapper"]

    outcome = parse_output(GOOD_JSON, validate, picky)
    assert outcome.stage == "schema_invalid"
    assert outcome.value is None
    assert "could not decode" in outcome.issues[0].message


def test_never_returns_a_value_that_fails_validation() -> None:
    def reject_all(value: Any) -> list[Issue]:
        return [Issue("/team", "nope")]

    for case in CASES:
        outcome = parse_output(case.text, reject_all)
        assert not outcome.ok
        assert outcome.value is None


def test_decoded_non_object_is_rejected() -> None:
    outcome = parse_output(GOOD_JSON, lambda v: [], lambda v: [v])
    assert outcome.stage == "schema_invalid"
    assert outcome.value is None


def test_fast_path_parses_once_and_validates_once() -> None:
    calls: list[Any] = []

    def counting(value: Any) -> list[Issue]:
        calls.append(value)
        return validate(value)

    assert parse_output(GOOD_JSON, counting).stage == "valid"
    assert calls == [GOOD]


def test_many_braces_stay_cheap() -> None:
    # Hundreds of candidate objects: only the first few are tried, each validated once.
    calls: list[Any] = []

    def counting(value: Any) -> list[Issue]:
        calls.append(value)
        return [Issue("", "no")]

    outcome = parse_output("noise {'a': 1} " * 500, counting)
    assert outcome.stage == "schema_invalid"
    assert len(calls) <= 20
