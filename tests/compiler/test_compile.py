"""compile_spec and CompiledSpec: cache, provider formats, validators, decode, public view."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

import app.compiler.prompt as prompt_module
from app.compiler import CACHE_SIZE, INPUT_PLACEHOLDER, compile_spec
from app.compiler.document import content_hash
from app.compiler.validation import SchemaValidator
from app.core.errors import Issue

from .conftest import TRIAGE, CompileFactory, DocumentFactory


def test_same_hash_gives_the_same_object(make_document: DocumentFactory) -> None:
    document = make_document()
    first = compile_spec(document, "hash-same")
    assert compile_spec(document, "hash-same") is first
    assert compile_spec(make_document(), "hash-same") is first
    assert compile_spec(document, "hash-other") is not first


def test_cache_is_bounded(make_document: DocumentFactory) -> None:
    document = make_document()
    oldest = compile_spec(document, "bounded-0")
    for i in range(1, CACHE_SIZE + 1):
        compile_spec(document, f"bounded-{i}")
    assert compile_spec(document, "bounded-0") is not oldest
    newest = compile_spec(document, f"bounded-{CACHE_SIZE}")
    assert compile_spec(document, f"bounded-{CACHE_SIZE}") is newest


def test_compiled_spec_is_immutable(make_compiled: CompileFactory) -> None:
    compiled = make_compiled()
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.strict = False  # type: ignore[misc]


def test_compiled_spec_does_not_alias_the_document(make_document: DocumentFactory) -> None:
    document = make_document()
    compiled = compile_spec(document, content_hash(document))
    document.output_schema["properties"]["team"]["enum"].append("nobody")
    assert "nobody" not in compiled.output_schema["properties"]["team"]["enum"]
    assert compiled.validate_output({"team": "nobody", "priority": "low", "summary": "s"})


def test_strict_response_format(make_compiled: CompileFactory) -> None:
    compiled = make_compiled()
    assert compiled.strict
    assert compiled.strict_notes == ()
    assert compiled.json_object_format == {"type": "json_object"}
    json_schema = compiled.response_format["json_schema"]
    assert compiled.response_format["type"] == "json_schema"
    assert json_schema["name"] == "ticket-triage"
    assert json_schema["strict"] is True
    assert json_schema["schema"]["required"] == ["team", "priority", "summary", "tags"]
    assert json_schema["schema"]["properties"]["tags"]["anyOf"][1] == {"type": "null"}
    assert compiled.output_schema == TRIAGE["output_schema"]


def test_non_strict_response_format_carries_the_original_schema(
    make_compiled: CompileFactory,
) -> None:
    output_schema = copy.deepcopy(TRIAGE["output_schema"])
    output_schema["properties"]["summary"]["maxLength"] = 280
    compiled = make_compiled(output_schema=output_schema)
    assert not compiled.strict
    assert compiled.strict_notes == (
        "/properties/summary: maxLength is not supported by strict mode",
    )
    assert compiled.response_format["json_schema"] == {
        "name": "ticket-triage",
        "schema": output_schema,
        "strict": False,
    }


def test_decode_strict(make_compiled: CompileFactory) -> None:
    compiled = make_compiled()
    answer = {"team": "sales", "priority": "low", "summary": "s", "tags": None}
    assert compiled.decode_strict(answer) == {"team": "sales", "priority": "low", "summary": "s"}
    assert answer["tags"] is None


@dataclass(frozen=True)
class ValidationCase:
    id: str
    value: Any
    issues: list[tuple[str, str]]


INPUT_CASES = [
    ValidationCase("valid", {"subject": "s", "body": "b"}, []),
    ValidationCase("not an object", ["s"], [("", "['s'] is not of type 'object'")]),
    ValidationCase(
        "missing fields point at their object",
        {"customer": {}},
        [
            ("", "'body' is a required property"),
            ("", "'subject' is a required property"),
            ("/customer", "'email' is a required property"),
        ],
    ),
    ValidationCase(
        "nested values and formats",
        {"subject": 1, "body": "b", "customer": {"email": "not-an-email", "plan": "gold"}},
        [
            ("/customer/email", "'not-an-email' is not a 'email'"),
            ("/customer/plan", "`plan` is 'gold'; it must be one of 'free', 'pro', 'enterprise'"),
            ("/subject", "1 is not of type 'string'"),
        ],
    ),
    ValidationCase(
        "keys needing escapes",
        {"subject": "s", "body": "b", "customer": {"email": "a@b.c", "a/b~c": 1}},
        [],
    ),
]


@pytest.mark.parametrize("case", INPUT_CASES, ids=lambda c: c.id)
def test_validate_input(make_compiled: CompileFactory, case: ValidationCase) -> None:
    issues = make_compiled().validate_input(case.value)
    assert [(i.pointer, i.message) for i in issues] == case.issues


def test_pointers_escape_keys_and_sort_indexes_numerically(make_compiled: CompileFactory) -> None:
    output_schema = copy.deepcopy(TRIAGE["output_schema"])
    output_schema["properties"]["a/b~c"] = {"type": "integer"}
    compiled = make_compiled(output_schema=output_schema)
    tags: list[Any] = ["ok"] * 11
    tags[10] = 10
    tags[2] = 2
    issues = compiled.validate_output(
        {"team": "sales", "priority": "low", "summary": "s", "tags": tags, "a/b~c": "x"}
    )
    assert [i.pointer for i in issues] == ["/a~1b~0c", "/tags", "/tags/2", "/tags/10"]


def test_long_values_are_not_quoted_in_full(make_compiled: CompileFactory) -> None:
    output_schema = copy.deepcopy(TRIAGE["output_schema"])
    output_schema["properties"]["summary"]["maxLength"] = 30
    compiled = make_compiled(output_schema=output_schema)
    (issue,) = compiled.validate_output({"team": "sales", "priority": "low", "summary": "x" * 5000})
    assert issue.pointer == "/summary"
    assert len(issue.message) <= 300
    assert issue.message.startswith("`summary` has 5000 characters")
    assert issue.message.endswith("at most 30 are allowed")


def test_messages_are_fresh_and_need_no_rendering(
    make_compiled: CompileFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = make_compiled()

    def no_jinja() -> None:
        raise AssertionError("messages() must not render templates")

    monkeypatch.setattr(prompt_module, "environment", no_jinja)
    first = compiled.messages({"subject": "s", "body": "b"})
    first.append({"role": "user", "content": "extra"})
    first[0]["content"] = "changed"
    second = compiled.messages({"subject": "s", "body": "b"})
    assert [m["role"] for m in second] == ["system", "user"]
    assert second[0]["content"] == compiled.system_prompt


def test_reask_messages(make_compiled: CompileFactory) -> None:
    compiled = make_compiled()
    value = {"subject": "s", "body": "b"}
    previous = 'Sure! {"team": "it"}'
    messages = compiled.reask_messages(
        value, previous, [Issue("", "'summary' is a required property"), Issue("/team", "bad")]
    )
    assert messages[:2] == compiled.messages(value)
    assert messages[2] == {"role": "assistant", "content": previous}
    assert messages[3]["role"] == "user"
    assert "- /: 'summary' is a required property\n- /team: bad\n" in messages[3]["content"]
    assert "corrected JSON object only" in messages[3]["content"]
    no_issues = compiled.reask_messages(value, previous, [])[3]["content"]
    assert "not valid under the output contract" in no_issues


def test_public_view(make_compiled: CompileFactory) -> None:
    compiled = make_compiled()
    public = compiled.public()
    assert set(public) == {
        "name",
        "content_hash",
        "messages",
        "input_placeholder",
        "response_format",
        "json_object_format",
        "strict",
        "strict_notes",
        "input_schema",
        "output_schema",
    }
    assert public["content_hash"] == compiled.content_hash
    assert public["messages"][0] == {"role": "system", "content": compiled.system_prompt}
    assert INPUT_PLACEHOLDER in public["messages"][1]["content"]
    assert public["input_placeholder"] == INPUT_PLACEHOLDER
    assert public["strict"] is True
    assert public["strict_notes"] == []
    public["response_format"]["json_schema"]["strict"] = False
    public["output_schema"]["required"].clear()
    assert compiled.response_format["json_schema"]["strict"] is True
    assert compiled.output_schema["required"] == ["team", "priority", "summary"]


@dataclass(frozen=True)
class WordsCase:
    name: str
    schema: dict[str, Any]
    value: Any
    message: str


WORDS = [
    WordsCase(
        "max items",
        {"properties": {"tags": {"maxItems": 5}}},
        {"tags": ["a", "b", "c", "d", "e", "f"]},
        "`tags` has 6 items; at most 5 are allowed",
    ),
    WordsCase(
        "min items, one",
        {"properties": {"tags": {"minItems": 2}}},
        {"tags": ["a"]},
        "`tags` has 1 item; at least 2 are required",
    ),
    WordsCase(
        "enum",
        {"properties": {"currency": {"enum": ["USD", "EUR"]}}},
        {"currency": "usd"},
        "`currency` is 'usd'; it must be one of 'USD', 'EUR'",
    ),
    WordsCase(
        "maximum in an array",
        {"properties": {"scores": {"items": {"maximum": 10}}}},
        {"scores": [3, 12]},
        "item 1 of `scores` is 12; the largest allowed is 10",
    ),
    WordsCase(
        "max properties, one",
        {"maxProperties": 1},
        {"a": 1, "b": 2},
        "the answer has 2 properties; at most 1 is allowed",
    ),
]


@pytest.mark.parametrize("case", WORDS, ids=lambda c: c.name)
def test_messages_state_the_limit_in_words(case: WordsCase) -> None:
    """A re-ask that says only "[…] is too long" gets the same answer back: the message must
    carry the limit itself."""
    (issue,) = SchemaValidator({"type": "object", **case.schema}).issues(case.value)
    assert issue.message == case.message
