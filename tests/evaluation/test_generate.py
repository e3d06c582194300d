"""Generated cases (schema, examples, per rule), promoting an execution, rule coverage."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.evaluation.schema_cases import schema_cases
from tests.conftest import admin_client, running_app
from tests.evaluation.helpers import BILLING, start_run
from tests.factories import create_spec, make_document
from tests.fakes.upstream import FakeUpstream, Status, Valid

RULES = make_document()["rules"]

BOUNDED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "minLength": 3, "maxLength": 20},
        "lang": {"enum": ["en", "fr", "de"]},
        "urgent": {"type": "boolean"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["subject"],
    "additionalProperties": False,
}


def test_schema_cases_cover_enums_optional_fields_and_bounds() -> None:
    drafts = schema_cases(BOUNDED)
    inputs = {d.name: d.input for d in drafts}
    assert inputs["schema: optional fields left out"].keys() == {"subject"}
    assert set(inputs["schema: every field"]) == set(BOUNDED["properties"])
    assert {inputs[f'schema: lang = "{v}"']["lang"] for v in ("en", "fr", "de")} == {
        "en",
        "fr",
        "de",
    }
    assert len(inputs["schema: subject at minLength 3"]["subject"]) == 3
    assert len(inputs["schema: subject at maxLength 20"]["subject"]) == 20
    assert inputs["schema: count at minimum 1"]["count"] == 1
    assert inputs["schema: count at maximum 9"]["count"] == 9
    assert len(inputs["schema: tags at maxItems 3"]["tags"]) == 3
    assert {
        inputs["schema: urgent = true"]["urgent"],
        inputs["schema: urgent = false"]["urgent"],
    } == {
        True,
        False,
    }
    assert all(d.expect == [] for d in drafts)  # the implicit schema check is the assertion
    assert schema_cases(BOUNDED) == drafts  # deterministic


def test_file_tests_name_rules_by_number_or_text() -> None:
    from app.compiler.document import InvalidDocument, parse_document

    test = {"name": "t", "input": {"subject": "a", "body": "b"}, "rules": [2, RULES[0]]}
    document = parse_document(make_document(tests=[test]))
    assert document.tests[0].rule_texts(document.rules) == [RULES[1], RULES[0]]
    for wrong in (3, 0, "not a rule"):
        with pytest.raises(InvalidDocument) as caught:
            parse_document(make_document(tests=[test | {"rules": [wrong]}]))
        assert [i.pointer for i in caught.value.issues] == ["/tests/0/rules/0"]


async def test_offline_model_writes_deterministic_cases_that_pass(settings: Settings) -> None:
    async with running_app(settings) as app, admin_client(app) as api:
        await create_spec(api, "triage")
        first = await api.post("/api/specs/triage/cases/generate", json={})
        assert first.status_code == 200, first.text
        cases = first.json()["items"]
        assert {c["origin"] for c in cases} == {"generated"}
        per_rule = [c for c in cases if c["name"].startswith("rule ")]
        assert [c["rules"] for c in per_rule] == [[RULES[0]], [RULES[1]]]
        assert all(c["expect"] for c in per_rule)
        assert any(c["name"] == "example 1" for c in cases)
        assert any(c["name"] == "schema: optional fields left out" for c in cases)

        again = (await api.post("/api/specs/triage/cases/generate")).json()["items"]
        strip = [(c["name"], c["input"], c["expect"]) for c in cases]
        assert [(c["name"], c["input"], c["expect"]) for c in again] == strip
        run = await start_run(api, "triage", 1)
        assert run["passed"] is True, run["failing_cases"]

        # Generated cases are editable and deletable like any other.
        case = per_rule[0]
        body = {"name": case["name"], "input": case["input"], "expect": [], "rules": case["rules"]}
        edited = await api.put(f"/api/specs/triage/cases/{case['id']}", json=body)
        assert edited.status_code == 200
        assert edited.json()["origin"] == "generated"
        gone = await api.delete(f"/api/specs/triage/cases/{case['id']}")
        assert gone.status_code == 204
        events = (await api.get("/api/audit", params={"action": "case.generated"})).json()
        assert events["items"], events


async def test_rule_cases_written_by_the_configured_model(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    written = {
        "name": "breach report",
        "input": {"subject": "Leak", "body": "Our customer data was exposed"},
        "expect": [
            {"path": "/priority", "equals": "urgent"},
            {"path": "/summary", "matches": "("},  # a regex that does not compile: dropped
            {"path": "/team", "equals": "marketing"},  # not a value the schema allows: dropped
        ],
    }
    upstream.script(Valid(written), Valid(written))
    response = await api.post("/api/specs/triage/cases/generate", json={"kinds": ["rules"]})
    assert response.status_code == 200, response.text
    cases = response.json()["items"]
    assert [c["name"] for c in cases] == ["rule 1: breach report", "rule 2: breach report"]
    assert cases[0]["expect"] == [{"path": "/priority", "equals": "urgent"}]
    assert cases[0]["input"] == written["input"]
    assert upstream.calls() == 2
    # The writer saw the spec's rule and an output schema whose `input` is the spec's input.
    request = upstream.requests[0].body
    assert RULES[0] in str(request["messages"])
    schema = request["response_format"]["json_schema"]["schema"]
    assert "subject" in str(schema["properties"]["input"])


async def test_rule_generation_reports_a_model_failure(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    upstream.script(*[Status(400)] * 4)
    response = await api.post("/api/specs/triage/cases/generate", json={"kinds": ["rules"]})
    assert response.status_code == 502, response.text
    assert response.json()["type"].endswith("case-generation-failed")
    assert (await api.get("/api/specs/triage/cases")).json()["items"] == []


async def _execution(api: httpx.AsyncClient, name: str, payload: dict[str, Any]) -> str:
    call = await api.post(f"/v1/agents/{name}", json=payload)
    execution_id = call.headers["X-Specloom-Execution-Id"]
    for _ in range(200):
        if (await api.get(f"/v1/executions/{execution_id}")).status_code == 200:
            return execution_id
        await asyncio.sleep(0.02)
    raise AssertionError("the execution was never recorded")


async def test_promote_an_execution_round_trip(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/publish", json={"version": 1})
    payload = {"subject": "Invoice", "body": "Please resend my invoice"}
    upstream.script(Valid(BILLING))
    execution_id = await _execution(api, "triage", payload)

    promoted = await api.post(
        f"/api/executions/{execution_id}/promote", json={"name": "resend invoice"}
    )
    # A draft, not a case: its expected values are the model's answer until confirmed.
    assert promoted.status_code == 200, promoted.text
    draft = promoted.json()
    assert draft["status"] == "draft"
    assert "model's own answer" in draft["review"]
    assert draft["save"] == "/api/specs/triage/cases"
    assert (await api.get("/api/specs/triage/cases")).json()["items"] == []
    body = draft["case"]
    assert body["execution_id"] == execution_id
    assert body["input"] == payload
    assert sorted(body["expect"], key=lambda a: a["path"]) == [
        {"path": "/priority", "equals": "normal"},
        {"path": "/summary", "exists": True},
        {"path": "/team", "equals": "billing"},
    ]
    saved = await api.post(draft["save"], json=body)  # the author confirms the draft
    assert saved.status_code == 201, saved.text
    case = saved.json()
    assert case["origin"] == "promoted"
    assert case["execution_id"] == execution_id
    assert (await api.get(f"/api/specs/triage/cases/{case['id']}")).json() == case
    upstream.script(Valid(BILLING))
    run = await start_run(api, "triage", 1)
    assert run["passed"] is True

    twice = await api.post(draft["save"], json=body)
    assert twice.status_code == 409
    foreign = await api.post(
        draft["save"], json=body | {"name": "other", "execution_id": str(uuid.uuid4())}
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["pointer"] == "/execution_id"
    upstream.script(*[Status(400)] * 4)
    failed_id = await _execution(api, "triage", payload | {"subject": "Other"})
    refused = await api.post(f"/api/executions/{failed_id}/promote")
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "failed"
    missing = await api.post("/api/executions/00000000-0000-0000-0000-000000000000/promote")
    assert missing.status_code == 404


async def test_redacted_execution_is_not_promoted(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    schema = make_document()["input_schema"]
    schema["properties"]["body"]["x-sensitive"] = True
    await create_spec(api, "secret", input_schema=schema)
    await api.post("/api/specs/secret/publish", json={"version": 1})
    upstream.script(Valid(BILLING))
    execution_id = await _execution(api, "secret", {"subject": "Hi", "body": "card 4111"})
    refused = await api.post(f"/api/executions/{execution_id}/promote")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["reason"] == "redacted"
    assert "x-sensitive" in problem["detail"]


async def test_coverage_lists_unexercised_rules(app: FastAPI) -> None:
    async with admin_client(app) as api:
        await create_spec(api, "triage")
        body = {
            "name": "billing",
            "input": {"subject": "Refund", "body": "charged twice"},
            "rules": [RULES[0]],
        }
        assert (await api.post("/api/specs/triage/cases", json=body)).status_code == 201
        await api.post("/api/specs/triage/cases", json=body | {"name": "plain", "rules": []})
        bad = await api.post("/api/specs/triage/cases", json=body | {"name": "x", "rules": ["?"]})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["pointer"] == "/rules/0"

        coverage = (await api.get("/api/specs/triage/coverage")).json()
        assert coverage["version"] == 1
        assert coverage["uncovered"] == [2]
        first, second = coverage["rules"]
        assert (first["rule"], first["covered"]) == (RULES[0], True)
        assert [c["name"] for c in first["cases"]] == ["billing"]
        assert (second["rule"], second["covered"], second["cases"]) == (RULES[1], False, [])
        assert coverage["cases_total"] == 2
        assert coverage["cases_without_rule"] == 1
        missing = await api.get("/api/specs/nope/coverage")
        assert missing.status_code == 404


async def test_a_rule_a_check_names_is_covered(app: FastAPI) -> None:
    checks = [
        {"name": "by-number", "assert": "output.summary != ''", "message": "m", "rules": [2]},
        {"name": "by-text", "assert": "output.team != ''", "message": "m", "rules": [RULES[1]]},
    ]
    async with admin_client(app) as api:
        await create_spec(api, "triage", checks=checks)

        coverage = (await api.get("/api/specs/triage/coverage")).json()

    assert coverage["uncovered"] == [1]
    first, second = coverage["rules"]
    assert (first["covered"], first["checks"]) == (False, [])
    assert (second["covered"], second["cases"], second["checks"]) == (
        True,
        [],
        ["by-number", "by-text"],
    )
