"""A spec's checks on every call: a failed check is re-asked with its message, an answer
that never passes is a 502 naming the check, a warning returns with a header, and grounded
strings must appear in the input."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "charged twice"}
SHOUTING = {"team": "billing", "priority": "urgent", "summary": "charged twice"}
BILLING_NOT_URGENT = {
    "name": "billing-not-urgent",
    "assert": "output.team != 'billing' || output.priority != 'urgent'",
    "message": "a billing question is never urgent",
}
GROUNDED_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "technical", "sales", "security"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "summary": {"type": "string", "maxLength": 280, "x-grounded": True},
    },
    "required": ["team", "priority", "summary"],
    "additionalProperties": False,
}
EXAMPLES = [
    {
        "input": {"subject": "Refund", "body": "I was charged twice"},
        "output": {"team": "billing", "priority": "normal", "summary": "charged twice"},
    }
]


async def _agent(api: httpx.AsyncClient, **overrides: Any) -> None:
    await live_agent(api, model={"name": "fast"}, examples=EXAMPLES, **overrides)


def _reask_text(upstream: FakeUpstream, index: int) -> str:
    messages = upstream.requests[index].body["messages"]
    return str(messages[-1]["content"])


async def test_a_failed_check_is_reasked_and_the_fixed_answer_returned(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await _agent(api, checks=[BILLING_NOT_URGENT])
    upstream.script(Valid(SHOUTING), Valid(GOOD), model="fake-fast")

    response = await api.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == 200, response.text
    assert response.json() == GOOD
    assert "a billing question is never urgent" in _reask_text(upstream, 1)
    record = await execution(api, response)
    first, second = record["attempts"]
    assert (first["outcome"], second["kind"], second["outcome"]) == (
        "check_failed",
        "reask",
        "valid",
    )
    assert [i["check"] for i in first["issues"]] == ["billing-not-urgent"]
    assert "x-specloom-check-warnings" not in response.headers


async def test_an_answer_that_never_passes_is_a_502_naming_the_check(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await _agent(api, checks=[BILLING_NOT_URGENT])
    upstream.default = Valid(SHOUTING)
    try:
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    finally:
        upstream.default = Valid()

    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"].endswith("/checks-failed")
    message = "a billing question is never urgent"
    assert problem["errors"] == [{"pointer": "", "message": message, "check": "billing-not-urgent"}]
    assert "billing-not-urgent" in problem["detail"]
    record = await execution(api, response)
    assert record["status"] == "failed"
    assert record["error"]["type"].endswith("/checks-failed")
    assert record["attempts"][0]["outcome"] == "check_failed"


async def test_a_warning_check_returns_the_answer_with_a_header(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await _agent(api, checks=[{**BILLING_NOT_URGENT, "severity": "warn"}])
    upstream.script(Valid(SHOUTING), model="fake-fast")

    response = await api.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == 200, response.text
    assert response.json() == SHOUTING
    assert response.headers["x-specloom-check-warnings"] == "billing-not-urgent"
    record = await execution(api, response)
    [attempt] = record["attempts"]
    assert attempt["outcome"] == "valid"
    assert attempt["issues"][0]["check"] == "billing-not-urgent"


async def test_grounding_refuses_a_value_absent_from_the_input(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await _agent(api, output_schema=GROUNDED_OUTPUT)
    invented = {**GOOD, "summary": "customer wants a refund of 40 dollars"}
    upstream.default = Valid(invented)
    try:
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    finally:
        upstream.default = Valid()

    assert response.status_code == 502, response.text
    [error] = response.json()["errors"]
    assert (error["pointer"], error["check"]) == ("/summary", "x-grounded")
    assert "does not appear in the input" in error["message"]


async def test_grounding_finds_a_value_after_case_and_whitespace_normalisation(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await _agent(api, output_schema=GROUNDED_OUTPUT)
    copied = {**GOOD, "summary": "I WAS  CHARGED\ntwice"}
    upstream.script(Valid(copied), model="fake-fast")

    response = await api.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == 200, response.text
    assert response.json() == copied


async def test_grounding_with_min_similarity_accepts_a_near_copy(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    near = {**GROUNDED_OUTPUT["properties"]["summary"], "x-grounded": {"min_similarity": 0.85}}
    schema = {**GROUNDED_OUTPUT, "properties": {**GROUNDED_OUTPUT["properties"], "summary": near}}
    await _agent(api, output_schema=schema)
    typo = {**GOOD, "summary": "charged twise this month"}
    upstream.script(Valid(typo), model="fake-fast")

    response = await api.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == 200, response.text
    assert response.json() == typo


async def test_the_offline_models_placeholders_are_not_held_to_the_checks(
    client: httpx.AsyncClient,
) -> None:
    exact = {"name": "exact", "assert": "output.summary == 'charged twice'", "message": "m"}
    created = await client.post(
        "/api/specs",
        json={"document": make_document(examples=EXAMPLES, checks=[exact])},
    )
    assert created.status_code == 201, created.text
    published = await client.post(
        "/api/specs/ticket-triage/publish", json={"version": 1, "force": True, "reason": "t"}
    )
    assert published.status_code == 200, published.text

    response = await client.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == 200, response.text
    assert response.headers["x-specloom-offline"] == "true"
    assert response.json()["summary"] != "charged twice"  # a generated placeholder
    assert response.headers["x-specloom-check-warnings"] == "exact"
