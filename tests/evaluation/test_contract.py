"""Contract diff: table-driven classification of schema pairs, and the publish it guards."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.registry.contract import classify_contract
from tests.conftest import ADMIN_KEY
from tests.factories import add_version, create_spec, make_document
from tests.security.test_web_matrix import sign_in

BASE = make_document()
IN: dict[str, Any] = BASE["input_schema"]
OUT: dict[str, Any] = BASE["output_schema"]


def edit(schema: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of `schema` with `value` set (or the key removed when value is ...) at `path`."""
    copied = copy.deepcopy(schema)
    node = copied
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copied


@dataclass(frozen=True)
class Case:
    name: str
    side: str
    new: dict[str, Any]
    breaking: bool
    kinds: set[str] = field(default_factory=set)
    old: dict[str, Any] | None = None


CASES = [
    Case("unchanged", "input", IN, False),
    Case(
        "new required input field",
        "input",
        edit(
            edit(IN, ["properties", "lang"], {"type": "string"}),
            ["required"],
            ["subject", "body", "lang"],
        ),
        True,
        {"required_field_added"},
    ),
    Case(
        "new optional input field",
        "input",
        edit(IN, ["properties", "lang"], {"type": "string"}),
        False,
        {"field_added"},
        old=edit(IN, ["additionalProperties"], False),
    ),
    Case(
        "input field made required",
        "input",
        edit(IN, ["required"], ["subject"]),
        False,
        {"field_made_optional"},
    ),
    Case(
        "input field type narrowed",
        "input",
        edit(IN, ["properties", "body"], {"type": "string"}),
        True,
        {"type_narrowed"},
        old=edit(IN, ["properties", "body"], {"type": ["string", "null"]}),
    ),
    Case(
        "input number to integer is narrowing",
        "input",
        edit(IN, ["properties", "n"], {"type": "integer"}),
        True,
        {"type_narrowed"},
        old=edit(IN, ["properties", "n"], {"type": "number"}),
    ),
    Case(
        "input integer to number is widening",
        "input",
        edit(IN, ["properties", "n"], {"type": "number"}),
        False,
        {"type_widened"},
        old=edit(IN, ["properties", "n"], {"type": "integer"}),
    ),
    Case(
        "input enum narrowed",
        "input",
        edit(IN, ["properties", "lang"], {"enum": ["en"]}),
        True,
        {"enum_narrowed"},
        old=edit(IN, ["properties", "lang"], {"enum": ["en", "fr"]}),
    ),
    Case(
        "input enum widened",
        "input",
        edit(IN, ["properties", "lang"], {"enum": ["en", "fr", "de"]}),
        False,
        {"enum_widened"},
        old=edit(IN, ["properties", "lang"], {"enum": ["en", "fr"]}),
    ),
    Case(
        "input maxLength tightened",
        "input",
        edit(IN, ["properties", "subject", "maxLength"], 100),
        True,
        {"maxLength_tightened"},
    ),
    Case(
        "input maxLength loosened",
        "input",
        edit(IN, ["properties", "subject", "maxLength"], 500),
        False,
        {"maxLength_loosened"},
    ),
    Case(
        "input minLength added",
        "input",
        edit(IN, ["properties", "body", "minLength"], 10),
        True,
        {"minLength_tightened"},
    ),
    Case(
        "input additionalProperties closed",
        "input",
        edit(IN, ["additionalProperties"], False),
        True,
        {"additional_properties_tightened"},
    ),
    Case(
        "input pattern added",
        "input",
        edit(IN, ["properties", "subject", "pattern"], "^[A-Z]"),
        True,
        {"pattern_added"},
    ),
    Case(
        "removed output field",
        "output",
        edit(edit(OUT, ["properties", "summary"], ...), ["required"], ["team", "priority"]),
        True,
        {"field_removed"},
    ),
    Case(
        "output field retyped",
        "output",
        edit(OUT, ["properties", "summary"], {"type": "integer"}),
        True,
    ),
    Case(
        "output field made optional",
        "output",
        edit(OUT, ["required"], ["team", "priority"]),
        True,
        {"field_made_optional"},
    ),
    Case(
        "output enum widened",
        "output",
        edit(
            OUT,
            ["properties", "team", "enum"],
            ["billing", "technical", "sales", "security", "legal"],
        ),
        True,
        {"enum_widened"},
    ),
    Case(
        "output enum narrowed",
        "output",
        edit(OUT, ["properties", "team", "enum"], ["billing", "technical"]),
        False,
        {"enum_narrowed"},
    ),
    Case(
        "new output field",
        "output",
        edit(OUT, ["properties", "language"], {"type": "string"}),
        False,
        {"field_added"},
    ),
    Case(
        "output maxLength tightened",
        "output",
        edit(OUT, ["properties", "summary", "maxLength"], 100),
        False,
        {"maxLength_tightened"},
    ),
    Case(
        "output maxLength loosened",
        "output",
        edit(OUT, ["properties", "summary", "maxLength"], 1000),
        True,
        {"maxLength_loosened"},
    ),
    Case(
        "output made nullable",
        "output",
        edit(OUT, ["properties", "summary", "type"], ["string", "null"]),
        True,
        {"type_widened"},
    ),
    Case(
        "output anyOf changed cannot be proven",
        "output",
        edit(OUT, ["properties", "x"], {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        True,
        {"composition_changed"},
        old=edit(OUT, ["properties", "x"], {"anyOf": [{"type": "string"}]}),
    ),
    Case(
        "nested output field removed through a $ref",
        "output",
        edit(OUT, ["$defs"], {"Who": {"type": "object", "properties": {}}}),
        True,
        {"field_removed"},
        old=edit(
            edit(
                OUT,
                ["$defs"],
                {"Who": {"type": "object", "properties": {"id": {"type": "string"}}}},
            ),
            ["properties", "who"],
            {"$ref": "#/$defs/Who"},
        ),
    ),
    Case(
        "array item enum widened on output",
        "output",
        edit(OUT, ["properties", "tags"], {"type": "array", "items": {"enum": ["a", "b"]}}),
        True,
        {"enum_widened"},
        old=edit(OUT, ["properties", "tags"], {"type": "array", "items": {"enum": ["a"]}}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_classification(case: Case) -> None:
    if case.side == "input":
        old_in = case.old or IN
        diff = classify_contract(old_in, OUT, case.new, OUT)
    else:
        old_out = case.old or OUT
        if case.name.startswith("nested"):
            # the new schema keeps the $ref to a definition that lost its field
            new = edit(case.new, ["properties", "who"], {"$ref": "#/$defs/Who"})
            diff = classify_contract(IN, old_out, IN, new)
        else:
            diff = classify_contract(IN, old_out, IN, case.new)
    assert diff.breaking is case.breaking, diff.changes
    kinds = {c.kind for c in diff.changes}
    assert case.kinds <= kinds, diff.changes
    assert all(c.side == case.side for c in diff.changes)
    assert all(c.pointer.startswith(f"/{case.side}_schema") for c in diff.changes)
    if case.name == "unchanged":
        assert diff.changes == []


def test_messages_name_the_field() -> None:
    diff = classify_contract(
        IN, OUT, IN, edit(OUT, ["properties", "team", "enum"], ["billing", "legal"])
    )
    messages = " ".join(c.message for c in diff.changes)
    assert "legal" in messages
    assert "technical" in messages
    [widened] = [c for c in diff.changes if c.kind == "enum_widened"]
    assert widened.pointer == "/output_schema/properties/team"
    assert widened.breaking is True


BREAKING_OUTPUT = edit(OUT, ["required"], ["team", "priority"])


async def test_breaking_publish_needs_confirmation(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    assert (await api.post("/api/specs/triage/publish", json={"version": 1})).status_code == 200
    await add_version(api, "triage", 1, output_schema=BREAKING_OUTPUT)

    refused = await api.post("/api/specs/triage/publish", json={"version": 2})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("breaking-contract-change")
    [change] = problem["breaking_changes"]
    assert change["kind"] == "field_made_optional"
    assert change["pointer"] == "/output_schema/properties/summary"
    assert (await api.get("/api/specs/triage")).json()["live_version"] == 1

    diff = (await api.get("/api/specs/triage/diff", params={"from": 1, "to": 2})).json()
    assert diff["contract"]["breaking"] is True
    assert [c["kind"] for c in diff["contract"]["changes"]] == ["field_made_optional"]

    confirmed = await api.post(
        "/api/specs/triage/publish", json={"version": 2, "confirm_breaking": True}
    )
    assert confirmed.status_code == 200, confirmed.text
    release = confirmed.json()
    assert release["breaking_confirmed"] is True
    assert release["contract"]["breaking"] is True
    history = (await api.get("/api/specs/triage/releases")).json()["items"]
    assert [(r["to_version"], r["breaking_confirmed"]) for r in history] == [(1, False), (2, True)]
    assert history[0]["contract"] is None  # nothing was live to compare with


async def test_compatible_publish_records_its_contract(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/publish", json={"version": 1})
    wider = edit(IN, ["properties", "lang"], {"type": "string"})
    await add_version(api, "triage", 1, input_schema=wider)
    published = await api.post("/api/specs/triage/publish", json={"version": 2})
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["contract"]["breaking"] is False
    assert body["breaking_confirmed"] is False
    assert [c["kind"] for c in body["contract"]["changes"]] == ["field_added"]


async def test_a_may_break_change_needs_the_same_confirmation(api: httpx.AsyncClient) -> None:
    """A change the diff cannot prove safe (another pattern) is refused like a breaking one."""
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/publish", json={"version": 1})
    other = edit(OUT, ["properties", "summary", "pattern"], "^[A-Z]")
    await add_version(
        api, "triage", 1, output_schema=edit(OUT, ["properties", "summary", "pattern"], "^D")
    )
    await api.post("/api/specs/triage/publish", json={"version": 2, "confirm_breaking": True})
    await add_version(api, "triage", 2, output_schema=other)

    refused = await api.post("/api/specs/triage/publish", json={"version": 3})
    assert refused.status_code == 409, refused.text
    [change] = refused.json()["breaking_changes"]
    assert (change["kind"], change["verdict"]) == ("pattern_changed", "may_break")

    confirmed = await api.post(
        "/api/specs/triage/publish", json={"version": 3, "confirm_breaking": True}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["contract"]["may_break"] is True
    audit = (await api.get("/api/audit", params={"action": "spec.published"})).json()["items"]
    assert audit[0]["details"]["contract"] == "may break, confirmed"


async def test_the_diff_page_says_may_break(serving_app: FastAPI, api: httpx.AsyncClient) -> None:
    """The web app names a change it cannot prove safe as such, not as plain breaking."""
    await create_spec(api, "triage")
    await add_version(
        api, "triage", 1, output_schema=edit(OUT, ["properties", "summary", "pattern"], "^D")
    )
    await add_version(
        api, "triage", 2, output_schema=edit(OUT, ["properties", "summary", "pattern"], "^[A-Z]")
    )
    transport = httpx.ASGITransport(app=serving_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        await sign_in(browser, ADMIN_KEY)
        page = await browser.get("/ui/agents/triage/diff", params={"from": 2, "to": 3})
    assert page.status_code == 200, page.text
    contract = page.text[page.text.index('id="contract"') :]
    assert "may break callers" in contract
    assert '<span class="badge failed">may break</span>' in contract
