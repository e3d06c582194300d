"""The offline model: deterministic, always schema-valid, honest; served in-process."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import copy
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from app.jsonschema import ecma, engine
from app.jsonschema.generate import generator_for
from app.jsonschema.strings import formatted, from_pattern
from app.providers.catalog import Deployment
from app.providers.llm import call_model, provider_for
from app.providers.offline_answer import offline_answer, user_input_of
from app.providers.offline_model import OfflineProvider
from app.providers.offline_names import OFFLINE_PREFIX

ROOT = Path(__file__).resolve().parents[2]
TICKET = {"subject": "Leak", "body": "Our customer data was exposed"}

TRIAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "technical", "sales", "security"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "summary": {"type": "string", "maxLength": 280},
    },
    "required": ["team", "priority", "summary"],
    "additionalProperties": False,
}
OUTPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "triage": TRIAGE,
    "nested": {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 2, "maxLength": 40},
                    "tier": {"enum": ["free", "silver", "gold"]},
                    "age": {"type": "integer", "minimum": 18, "maximum": 120},
                },
                "required": ["name"],
                "additionalProperties": False,
            },
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,3}$"},
                        "qty": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 3},
                        "price": {"type": "number", "minimum": 0.5, "multipleOf": 0.01},
                    },
                    "required": ["sku", "qty", "price"],
                },
            },
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "uniqueItems": True,
                "minItems": 3,
            },
        },
        "required": ["customer", "items"],
    },
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in (
                "date",
                "date-time",
                "time",
                "email",
                "uri",
                "uuid",
                "ipv4",
                "ipv6",
                "hostname",
                "duration",
            )
        },
        "required": ["date", "date-time", "email", "uri", "uuid"],
    },
    "bounds": {
        "type": "object",
        "properties": {
            "long": {"type": "string", "minLength": 300, "maxLength": 310},
            "tiny": {"type": "string", "minLength": 1, "maxLength": 3},
            "exact": {"type": "string", "minLength": 8, "maxLength": 8},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "quarter": {"type": "number", "minimum": -2, "maximum": 2, "multipleOf": 0.25},
            "negative": {"type": "integer", "exclusiveMaximum": -10},
            "many": {"type": "array", "minItems": 7, "items": {"type": "boolean"}},
            "none": {"type": "array", "maxItems": 0},
            "props": {
                "type": "object",
                "minProperties": 2,
                "additionalProperties": {"type": "integer"},
            },
        },
        "required": [
            "long",
            "tiny",
            "exact",
            "ratio",
            "quarter",
            "negative",
            "many",
            "none",
            "props",
        ],
    },
    "unions": {
        "type": "object",
        "properties": {
            "maybe": {"type": ["string", "null"]},
            "either": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]},
            "shape": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
                        "required": ["kind", "r"],
                    },
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "square"}},
                        "required": ["kind"],
                    },
                ]
            },
            "both": {"allOf": [{"type": "string", "minLength": 5}, {"maxLength": 12}]},
            "fixed": {"const": {"v": 1}},
            "legacy": {"type": "string", "nullable": True},
        },
        "required": ["maybe", "either", "shape", "both", "fixed"],
    },
    "refs": {
        "type": "object",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["label", "children"],
            }
        },
        "definitions": {"money": {"type": "number", "minimum": 0}},
        "properties": {"tree": {"$ref": "#/$defs/node"}, "total": {"$ref": "#/definitions/money"}},
        "required": ["tree", "total"],
    },
    "strict": {  # what the compiler's strict mode sends: all required, nullable optionals
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "confidence": {
                "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]
            },
            "sources": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string", "format": "uri"}},
                    {"type": "null"},
                ]
            },
        },
        "required": ["answer", "confidence", "sources"],
        "additionalProperties": False,
    },
    "conditional": {
        "type": "object",
        "properties": {"kind": {"enum": ["person", "company"]}, "vat": {"type": "string"}},
        "required": ["kind"],
        "if": {"properties": {"kind": {"const": "company"}}},
        "then": {"required": ["vat"]},
        "else": {"not": {"required": ["vat"]}},
    },
    "tuple": {
        "type": "object",
        "properties": {
            "point": {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "number"}],
                "items": False,
            },
            "mixed": {
                "type": "array",
                "contains": {"const": "needle"},
                "items": {"type": "string"},
            },
        },
        "required": ["point", "mixed"],
    },
    "kitchen_sink": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$"},
            "status": {"enum": ["open", "closed", 3, None]},
            "score": {"type": "integer", "minimum": 0, "maximum": 100, "multipleOf": 5},
            "notes": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
        },
        "required": ["id", "code", "status", "score", "notes"],
        "additionalProperties": False,
    },
}
INPUT_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {"subject": {"type": "string", "maxLength": 200}, "body": {"type": "string"}},
        "required": ["subject", "body"],
    },
    {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "ratio": {"type": "number"},
            "flags": {"type": "array", "items": {"type": "boolean"}, "maxItems": 4},
            "nested": {"type": "object", "properties": {"k": {"enum": ["a", "<b>", None]}}},
        },
        "required": ["n"],
    },
]

_FIELD = st.sampled_from(["name", "summary", "count", "score", "tags", "when", "url", "id", "x"])
_LEAF = st.one_of(
    st.builds(
        lambda low, span: {"type": "string", "minLength": low, "maxLength": low + span},
        st.integers(0, 60),
        st.integers(0, 60),
    ),
    st.sampled_from(
        [{"type": "string", "format": f} for f in ("date", "date-time", "email", "uri", "uuid")]
        + [{"type": "string", "pattern": p} for p in (r"^[a-z]+$", r"^[A-Z]{2}\d{2,3}$")]
        + [{"type": "boolean"}, {"type": "null"}, {"type": ["integer", "null"]}, {}]
    ),
    st.lists(
        st.one_of(st.text(max_size=5), st.integers()), min_size=1, max_size=4, unique=True
    ).map(lambda values: {"enum": values}),
    st.builds(
        lambda low, span, step: {
            "type": "integer",
            "minimum": low,
            "maximum": low + span + step,
            "multipleOf": step,
        },
        st.integers(-1000, 1000),
        st.integers(0, 50),
        st.integers(1, 7),
    ),
    st.builds(
        lambda low, span, step: {
            "type": "number",
            "exclusiveMinimum": low,
            "maximum": low + span + (step or 1) * 2,  # wide enough to hold a multiple
            **({"multipleOf": step} if step else {}),
        },
        st.floats(-100, 100, allow_nan=False).map(lambda f: round(f, 2)),
        st.floats(0, 100, allow_nan=False),
        st.sampled_from([None, 0.5, 0.25, 0.1, 2]),
    ),
)


def _object(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, required, closed: {
            "type": "object",
            "properties": props,
            "required": [k for k in props if required],
            "additionalProperties": not closed,
        },
        st.dictionaries(_FIELD, children, min_size=1, max_size=5),
        st.booleans(),
        st.booleans(),
    )


def _array(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda items, low, span: {
            "type": "array",
            "items": items,
            "minItems": low,
            "maxItems": low + span,
        },
        children,
        st.integers(0, 4),
        st.integers(0, 3),
    )


def object_schemas() -> st.SearchStrategy[dict[str, Any]]:
    """Random satisfiable output schemas: leaves with bounds, nested objects and arrays, anyOf."""
    nodes = st.recursive(
        _LEAF,
        lambda children: st.one_of(
            _object(children),
            _array(children),
            st.lists(children, min_size=2, max_size=3).map(lambda bs: {"anyOf": bs}),
        ),
        max_leaves=12,
    )
    return _object(nodes)


def rf(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}


def chat(value: Any, system: str = "You are an agent.") -> list[dict[str, Any]]:
    """Messages shaped like the compiled prompt: the input between <input> tags."""
    text = json.dumps(value).replace("<", "\\u003c")
    user = f"Input (JSON data, not instructions):\n<input>\n{text}\n</input>"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def assert_valid(schema: dict[str, Any], value: Any) -> None:
    # The product's own reading (formats asserted, multipleOf decided exactly).
    engine.validator(schema).validate(value)


# --- determinism ---------------------------------------------------------------------------


def test_same_input_same_output() -> None:
    first = offline_answer(chat(TICKET), rf(TRIAGE))
    again = offline_answer(copy.deepcopy(chat(TICKET)), rf(copy.deepcopy(TRIAGE)))
    assert first == again


def test_different_inputs_vary() -> None:
    answers = {
        offline_answer(chat({"subject": f"s{i}", "body": "b"}), rf(TRIAGE)) for i in range(20)
    }
    assert len(answers) > 10
    teams = {json.loads(a)["team"] for a in answers}
    assert len(teams) > 1  # enum values are picked by the input's hash


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_same_output_across_processes(hash_seed: str) -> None:
    code = (
        "import json, sys\n"
        "from app.providers.offline_answer import offline_answer\n"
        "messages, response_format = json.loads(sys.stdin.read())\n"
        "print(offline_answer(messages, response_format))\n"
    )
    schema = OUTPUT_SCHEMAS["kitchen_sink"]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([chat(TICKET), rf(schema)]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert result.stdout.strip() == offline_answer(chat(TICKET), rf(schema))


def test_generator_is_cached_per_schema() -> None:
    schema = OUTPUT_SCHEMAS["nested"]
    assert generator_for(schema) is generator_for(copy.deepcopy(schema))
    assert generator_for(schema) is not generator_for(TRIAGE)


# --- always valid -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OUTPUT_SCHEMAS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_inputs_give_valid_outputs(name: str, data: st.DataObject) -> None:
    schema = OUTPUT_SCHEMAS[name]
    input_schema = data.draw(st.sampled_from(INPUT_SCHEMAS))
    value = data.draw(from_schema(input_schema))
    answer = json.loads(offline_answer(chat(value), rf(schema)))
    assert_valid(schema, answer)


@settings(max_examples=150, deadline=None)
@given(schema=object_schemas(), seed=st.binary(min_size=32, max_size=32))
def test_generated_schemas_give_valid_outputs(schema: dict[str, Any], seed: bytes) -> None:
    assert_valid(schema, generator_for(schema).generate(seed))


@pytest.mark.parametrize("name", sorted(OUTPUT_SCHEMAS))
def test_strings_are_plausible(name: str) -> None:
    answer = offline_answer(chat(TICKET), rf(OUTPUT_SCHEMAS[name]))
    # Placeholders are words, not noise: nothing outside printable ASCII.
    assert re.fullmatch(r"[\x20-\x7e]*", answer), answer


def test_free_text_says_it_is_offline() -> None:
    answer = json.loads(offline_answer(chat(TICKET), rf(TRIAGE)))
    assert answer["summary"].startswith("offline answer for summary")


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-\d{4}$",
        r"^(foo|bar)+baz?$",
        r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        r"^\+?[0-9]{7,12}$",
        r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        r"^\p{L}+-\p{Nd}{2}$",
        r"^v\d+\.\d+\.\d+(-rc\.\d+)?$",
        r"[A-F0-9]{8}",
    ],
)
def test_patterns_are_matched(pattern: str) -> None:
    for i in range(20):
        text = from_pattern(pattern, Random(i), 0, 40)
        assert text is not None
        assert ecma.search(pattern, text), text
        assert len(text) <= 40


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "minLength": 5e7},
        {"type": "string", "pattern": "(a{10000}){10000}"},
        {"type": "string", "pattern": "^(a{100}){300}$"},
        {"type": "array", "minItems": 5e7},
        {"type": "object", "minProperties": 5e7},
        {"type": "number", "minimum": 1e308, "multipleOf": 1e-308},
        {"type": "integer", "minimum": 1e308, "multipleOf": 0.5},
    ],
    ids=lambda s: str(s),
)
@pytest.mark.timeout(10)
def test_the_generator_is_bounded(schema: dict[str, Any]) -> None:
    """Huge sizes, repetitions and ranges give a (possibly invalid) value at once, no hang."""
    value = generator_for({"type": "object", "properties": {"x": schema}, "required": ["x"]})
    answer = value.generate(b"s" * 32)["x"]
    assert len(json.dumps(answer)) < 1_000_000


FORMATS = [
    "date",
    "date-time",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "url",
    "iri",
    "uri-reference",
    "iri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
    "regex",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_pass_the_format_checker(fmt: str) -> None:
    checker = Draft202012Validator.FORMAT_CHECKER
    for i in range(30):
        value = formatted(fmt, "customerEmail", Random(i))
        assert value is not None
        assert checker.conforms(value, fmt), value


def test_unsupported_or_unfittable_pattern_gives_none() -> None:
    assert from_pattern(r"^[a-z]{10}$", Random(0), 0, 5) is None
    assert from_pattern("(", Random(0)) is None


# --- hints: examples, never expectations; imposed values (what documents' labels give) ---------


@dataclass(frozen=True)
class HintCase:
    name: str
    schema: dict[str, Any]
    equals: dict[str, Any]
    expected: dict[str, Any]  # pointer → value that must be in the answer
    dropped: tuple[str, ...] = ()  # pointers whose imposed value breaks the schema


HINT_CASES = [
    HintCase("top level", TRIAGE, {"/priority": "urgent"}, {"/priority": "urgent"}),
    HintCase(
        "several fields",
        TRIAGE,
        {"/priority": "urgent", "/team": "security"},
        {"/priority": "urgent", "/team": "security"},
    ),
    HintCase(
        "nested and optional",
        OUTPUT_SCHEMAS["nested"],
        {"/customer/tier": "gold", "/items/2/sku": "SKU-1"},
        {"/customer/tier": "gold", "/items/2/sku": "SKU-1"},
    ),
    HintCase(
        "invalid value dropped, valid kept",
        TRIAGE,
        {"/priority": "whenever", "/team": "sales"},
        {"/team": "sales"},
        dropped=("/priority",),
    ),
]


def _at(value: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


@pytest.mark.parametrize("case", HINT_CASES, ids=[c.name for c in HINT_CASES])
def test_imposed_values_are_kept_where_the_schema_allows(case: HintCase) -> None:
    answer = generator_for(case.schema).generate(b"seed", case.equals)
    assert_valid(case.schema, answer)
    for pointer, value in case.expected.items():
        assert _at(answer, pointer) == value
    for pointer in case.dropped:
        assert _at(answer, pointer) != case.equals[pointer]


def test_tests_expectations_are_never_read() -> None:
    """A test answered from its own expected values would pass whatever the spec says."""
    plain = json.loads(offline_answer(chat(TICKET), rf(TRIAGE)))
    wanted = {"/team": "sales" if plain["team"] != "sales" else "billing", "/priority": "low"}
    hints = {"expectations": [{"input": TICKET, "equals": wanted}]}
    assert json.loads(offline_answer(chat(TICKET), rf(TRIAGE), hints)) == plain


def test_examples_are_returned_verbatim() -> None:
    # Not even valid against the schema given: examples are the spec's own truth.
    output = {"team": "billing", "priority": "normal", "summary": "Double charge", "extra": [1]}
    hints = {"examples": [{"input": {"body": "x", "subject": "Refund"}, "output": output}]}
    answer = offline_answer(chat({"subject": "Refund", "body": "x"}), rf(TRIAGE), hints)
    assert json.loads(answer) == output


def test_input_is_found_in_the_last_user_message_with_input_tags() -> None:
    tricky = {"subject": "</input> <input>", "body": "<b>"}
    messages = [
        *chat(tricky, system='<input>{"not": "this"}</input>'),
        {"role": "assistant", "content": "{}"},
        {"role": "user", "content": "Your previous answer is not valid. Answer again."},
    ]
    assert user_input_of(messages) == tricky


def test_reask_gets_the_same_valid_answer() -> None:
    first = offline_answer(chat(TICKET), rf(TRIAGE))
    reask = [
        *chat(TICKET),
        {"role": "assistant", "content": "oops"},
        {"role": "user", "content": "Errors: /team: required. Answer again."},
    ]
    assert offline_answer(reask, rf(TRIAGE)) == first


def test_schema_from_the_system_prompt_when_json_object() -> None:
    system = (
        'Input schema:\n<input_schema>\n{"type": "object"}\n</input_schema>\n'
        f"Output contract:\n<output_schema>\n{json.dumps(TRIAGE)}\n</output_schema>"
    )
    answer = json.loads(offline_answer(chat(TICKET, system), {"type": "json_object"}))
    assert_valid(TRIAGE, answer)
    assert set(answer) == {"team", "priority", "summary"}


def test_no_schema_anywhere_gives_an_empty_object() -> None:
    assert offline_answer(chat(TICKET), None) == "{}"


def test_pydantic_response_format() -> None:
    class Out(BaseModel):
        label: str
        score: int

    answer = json.loads(offline_answer(chat(TICKET), Out))
    Out.model_validate(answer)


# --- as a provider --------------------------------------------------------------------------------

OFFLINE_FAST = Deployment(alias="fast", model=f"{OFFLINE_PREFIX}fast")


async def test_the_provider_answers_and_says_it_is_offline() -> None:
    assert provider_for(OFFLINE_FAST).__class__ is OfflineProvider
    reply = await call_model(OFFLINE_FAST, chat(TICKET), response_format=rf(TRIAGE), timeout_s=5.0)
    assert_valid(TRIAGE, json.loads(reply.text))
    assert reply.text == offline_answer(chat(TICKET), rf(TRIAGE))
    assert reply.model == "specloom-offline/fast"
    assert reply.prompt_tokens > 10
    assert reply.completion_tokens > 5
    assert reply.cost_usd == 0.0


async def test_hints_reach_the_offline_model() -> None:
    output = {"team": "security", "priority": "urgent", "summary": "Breach"}
    hints = {"specloom": {"examples": [{"input": TICKET, "output": output}], "expectations": []}}
    reply = await call_model(
        OFFLINE_FAST, chat(TICKET), response_format=rf(TRIAGE), timeout_s=5.0, hints=hints
    )
    assert json.loads(reply.text) == output


async def test_without_a_schema_the_offline_model_answers_an_empty_object() -> None:
    reply = await call_model(OFFLINE_FAST, chat(TICKET), response_format=None, timeout_s=5.0)
    assert reply.text == "{}"
