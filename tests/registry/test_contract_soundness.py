"""The contract diff is sound: what it calls compatible is compatible, on generated schemas.

For outputs: a change the diff lets through without confirmation never allows a document the
old schema refused (documents drawn from the new schema by hypothesis-jsonschema). For
inputs, the mirror: every document the old schema accepted, the new one accepts. Plus one
regression test for each change the diff used to miss.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis_jsonschema import from_schema

from app.jsonschema import engine
from app.registry.contract import classify_contract

OPEN: dict[str, Any] = {"type": "object"}

leaf = st.one_of(
    st.sampled_from(["string", "integer", "number", "boolean", "null"]).map(lambda t: {"type": t}),
    st.integers(0, 4).map(lambda n: {"type": "string", "maxLength": n}),
    st.integers(0, 3).map(lambda n: {"type": "string", "minLength": n}),
    st.sampled_from(["^a", "b$", "^[ab]*$"]).map(lambda p: {"type": "string", "pattern": p}),
    st.lists(st.sampled_from(["a", "b", 1, None]), min_size=1, max_size=3, unique=True).map(
        lambda e: {"enum": e}
    ),
    st.integers(-2, 2).map(lambda n: {"type": "integer", "minimum": n}),
    st.sampled_from([0.5, 1, 2, 0.1]).map(lambda m: {"type": "number", "multipleOf": m}),
    st.just({}),
)


@st.composite
def arrays(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "maxItems": 3}
    if draw(st.booleans()):
        schema["items"] = draw(leaf)
    if draw(st.booleans()):
        schema["prefixItems"] = draw(st.lists(leaf, max_size=2))
    if draw(st.booleans()):
        schema["contains"] = draw(leaf)
        schema["minContains"] = draw(st.integers(0, 2))
    return schema


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True))
    props = {n: draw(st.one_of(leaf, arrays())) for n in names}
    schema: dict[str, Any] = {"type": "object", "properties": props, "maxProperties": 4}
    schema["required"] = draw(st.lists(st.sampled_from(names or ["a"]), unique=True))
    if draw(st.booleans()):
        schema["patternProperties"] = {"^x": draw(leaf)}
    if draw(st.booleans()):
        schema["propertyNames"] = {"maxLength": draw(st.integers(1, 2))}
    if draw(st.booleans()):
        schema["dependentRequired"] = {
            "a": draw(st.lists(st.sampled_from(["b", "c"]), unique=True))
        }
    if draw(st.booleans()):
        schema["$defs"] = {"d": draw(leaf)}
        schema["properties"]["r"] = draw(
            st.sampled_from(
                [
                    {"$ref": "#/$defs/d", "maxLength": draw(st.integers(0, 3))},
                    {"allOf": [{"$ref": "#/$defs/d"}]},  # a reference inside unchanged text
                ]
            )
        )
    return schema


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """An object schema and the same schema with one part replaced, dropped or added."""
    old = draw(objects())
    new = copy.deepcopy(old)
    fresh = draw(objects())
    key = draw(st.sampled_from(sorted(old.keys() | fresh.keys())))
    if key in fresh and draw(st.booleans()):
        new[key] = fresh[key]
    elif key in new and key != "type":
        del new[key]
    if draw(st.booleans()) and new.get("properties"):
        name = draw(st.sampled_from(sorted(new["properties"])))
        part = draw(st.one_of(leaf, arrays()))
        # Either another schema, or the same one with more conditions (often compatible).
        narrowed = {**part, **new["properties"][name]}
        new["properties"][name] = draw(st.sampled_from([part, narrowed]))
    return old, new


def _policy_exempt(old: dict[str, Any], new: dict[str, Any]) -> bool:
    # By policy a new field is compatible (callers ignore unknown output fields and nobody
    # relies on sending undocumented input fields); where the old schema had its own rule
    # for undeclared keys, a generated document may disagree, so those pairs are skipped.
    added = set(new.get("properties") or {}) - set(old.get("properties") or {})
    return bool(added)


def _documents(data: st.DataObject, schema: dict[str, Any], count: int = 8) -> list[Any]:
    checker = engine.validator(schema)
    try:
        drawn = [data.draw(from_schema(schema)) for _ in range(count)]
    except InvalidArgument:  # hypothesis-jsonschema cannot handle every keyword combination
        return []
    return [doc for doc in drawn if checker.is_valid(doc)]


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pair=mutated(), data=st.data())
def test_compatible_output_changes_allow_no_new_document(
    pair: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    old, new = pair
    diff = classify_contract(OPEN, old, OPEN, new)
    if diff.breaking or _policy_exempt(old, new):
        return
    old_checker = engine.validator(old)
    for doc in _documents(data, new):
        assert old_checker.is_valid(doc), (doc, diff.changes)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pair=mutated(), data=st.data())
def test_compatible_input_changes_refuse_no_old_document(
    pair: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    old, new = pair
    diff = classify_contract(old, OPEN, new, OPEN)
    if diff.breaking or _policy_exempt(old, new):
        return
    new_checker = engine.validator(new)
    for doc in _documents(data, old):
        assert new_checker.is_valid(doc), (doc, diff.changes)


def _output(**extra: Any) -> dict[str, Any]:
    return {"type": "object", **extra}


# Each pair widens the output (a document the old schema refused becomes valid); the diff
# used to report no change at all for every one of them.
MISSED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "contains": ({"contains": {"const": 1}}, {"contains": {"type": "integer"}}),
    "minContains": ({"contains": {"const": 1}, "minContains": 2}, {"contains": {"const": 1}}),
    "prefixItems": ({"prefixItems": [{"type": "string"}]}, {"prefixItems": [{}]}),
    "patternProperties": (
        {"patternProperties": {"^x": {"type": "string"}}},
        {"patternProperties": {"^x": {}}},
    ),
    "propertyNames": ({"propertyNames": {"maxLength": 2}}, {"propertyNames": {"maxLength": 5}}),
    "dependentRequired": ({"dependentRequired": {"a": ["b"]}}, {"dependentRequired": {"a": []}}),
    "unevaluatedProperties": (
        {"unevaluatedProperties": False},
        {"unevaluatedProperties": {"type": "string"}},
    ),
    "additionalProperties schema": (
        {"additionalProperties": {"type": "string"}},
        {"additionalProperties": {"type": ["string", "integer"]}},
    ),
}


@pytest.mark.parametrize("name", sorted(MISSED))
def test_changes_it_used_to_miss_need_confirmation(name: str) -> None:
    old, new = MISSED[name]
    diff = classify_contract(OPEN, _output(**old), OPEN, _output(**new))
    assert diff.changes, name
    assert diff.breaking, diff.changes


def test_a_bound_beside_a_ref_adds_to_the_target() -> None:
    defs = {"$defs": {"s": {"type": "string", "maxLength": 5}}}
    old = _output(properties={"x": {"$ref": "#/$defs/s", "maxLength": 10}}, **defs)
    new = _output(properties={"x": {"$ref": "#/$defs/s", "maxLength": 8}}, **defs)
    # maxLength 5 applies on both sides (the tighter of the two): nothing changed.
    assert classify_contract(OPEN, old, OPEN, new).changes == []
    looser = copy.deepcopy(new)
    looser["$defs"]["s"]["maxLength"] = 20
    diff = classify_contract(OPEN, old, OPEN, looser)
    assert [(c.kind, c.breaking) for c in diff.changes] == [("maxLength_loosened", True)]


@pytest.mark.timeout(10)
def test_recursive_refs_are_compared_once() -> None:
    old = _output(properties={"l": {"$ref": "#"}, "r": {"$ref": "#"}, "v": {"maxLength": 3}})
    new = copy.deepcopy(old)
    new["properties"]["v"]["maxLength"] = 4
    diff = classify_contract(OPEN, old, OPEN, new)
    assert {c.kind for c in diff.changes} == {"maxLength_loosened"}
    assert diff.breaking


def test_may_break_is_its_own_verdict() -> None:
    old = _output(properties={"x": {"type": "string", "pattern": "^a"}})
    new = _output(properties={"x": {"type": "string", "pattern": "^b"}})
    diff = classify_contract(OPEN, old, OPEN, new)
    assert [(c.verdict, c.breaking) for c in diff.changes] == [("may_break", True)]
    assert diff.may_break
    assert diff.breaking


def test_a_change_behind_a_reference_inside_unchanged_text_is_seen() -> None:
    old = _output(
        **{
            "$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"maxLength": 3}},
            "properties": {"p": {"$ref": "#/$defs/a"}},
        }
    )
    new = copy.deepcopy(old)
    new["$defs"]["b"]["maxLength"] = 4
    diff = classify_contract(OPEN, old, OPEN, new)
    assert [(c.kind, c.breaking) for c in diff.changes] == [("maxLength_loosened", True)]


def test_a_property_added_beside_unevaluated_properties_may_break() -> None:
    old = _output(properties={"a": {"type": "string"}}, unevaluatedProperties=False)
    new = _output(
        properties={"a": {"type": "string"}, "b": {"type": "integer"}},
        unevaluatedProperties=False,
    )
    diff = classify_contract(OPEN, old, OPEN, new)
    assert "evaluation_changed" in {c.kind for c in diff.changes}
    assert diff.may_break
