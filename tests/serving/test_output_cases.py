"""One call through the whole pipeline, per kind of model behaviour: the HTTP answer, its
headers and the execution record with every attempt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import Behaviour, FakeUpstream, Hang, Status, Text, Valid
from tests.serving.conftest import PRICE_IN, PRICE_OUT, execution, live_agent

GOOD = {"team": "billing", "priority": "normal", "summary": "Double charge"}
GOOD_TEXT = json.dumps(GOOD)
WRONG_TYPES = json.dumps({"team": 5, "priority": "normal", "summary": ["x"]})
INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}


@dataclass(frozen=True)
class Case:
    id: str
    script: tuple[Behaviour, ...]
    status: int
    outcomes: tuple[str, ...]
    output: dict[str, Any] | None = None
    retryable: bool = True  # of the problem, when the call fails


CASES = [
    Case("valid json", (Valid(GOOD),), 200, ("valid",), GOOD),
    Case("fenced json", (Text(f"```json\n{GOOD_TEXT}\n```"),), 200, ("valid",), GOOD),
    Case(
        "prose around json",
        (Text(f"Sure! Here it is:\n{GOOD_TEXT}\nAnything else?"),),
        200,
        ("valid",),
        GOOD,
    ),
    Case("trailing comma", (Text(GOOD_TEXT[:-1] + ",}"),), 200, ("repaired",), GOOD),
    Case(
        "truncated json",
        (Text('{"team": "billing", "priority": "normal", "summary": "Double charge'),),
        200,
        ("repaired",),
        GOOD,
    ),
    Case(
        "wrong types fixed by a re-ask",
        (Text(WRONG_TYPES), Valid(GOOD)),
        200,
        ("schema_invalid", "valid"),
        GOOD,
    ),
    Case(
        "wrong types never fixed",
        (Text(WRONG_TYPES), Text(WRONG_TYPES.replace("5", "6"))),
        502,
        ("schema_invalid", "schema_invalid"),
    ),
    Case(
        # The re-ask got the rejected text back: the model stops, and so should the caller.
        "the same wrong answer twice",
        (Text(WRONG_TYPES), Text(WRONG_TYPES)),
        502,
        ("schema_invalid", "repeated"),
        retryable=False,
    ),
    Case(
        "prose only",
        (Text("I cannot help with that."), Text("Still no.")),
        502,
        ("unparseable", "unparseable"),
    ),
    Case("server error", (Status(500),), 503, ("server_error",)),
    Case("hang past the timeout", (Hang(3.0),), 504, ("timeout",)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_model_behaviour(api: httpx.AsyncClient, upstream: FakeUpstream, case: Case) -> None:
    await live_agent(api, model={"name": "fast"})
    upstream.script(*case.script, model="fake-fast")

    response = await api.post("/v1/agents/ticket-triage", json=INPUT)

    assert response.status_code == case.status, response.text
    assert response.headers["x-specloom-version"] == "1"
    assert response.headers["x-specloom-cache"] == "miss"
    if case.output is not None:
        assert response.json() == case.output
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-specloom-model"] == "openai/fake-fast"
    else:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == case.status
        assert problem["execution_id"] == response.headers["x-specloom-execution-id"]
        assert problem["retryable"] is case.retryable
    record = await execution(api, response)
    assert record["status"] == ("succeeded" if case.status == 200 else "failed")
    assert record["input"] == INPUT
    assert record["output"] == case.output
    assert [a["outcome"] for a in record["attempts"]] == list(case.outcomes)
    assert upstream.calls("fake-fast") == len(case.outcomes)
    assert all(a["model"] == "openai/fake-fast" for a in record["attempts"])
    assert all(a["latency_ms"] > 0 for a in record["attempts"])


async def test_invalid_output_problem_names_what_was_wrong(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model={"name": "fast"})
    upstream.script(Text(WRONG_TYPES), Text(WRONG_TYPES), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 502
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/team", "/summary"} <= pointers
    assert "break the schema" in response.json()["detail"] or "schema" in response.json()["detail"]


async def test_reask_sends_the_validation_errors(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model={"name": "fast"})
    upstream.script(Text(WRONG_TYPES), Valid(GOOD), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 200
    first, second = upstream.requests
    reask = second.body["messages"]
    assert len(reask) > len(first.body["messages"])
    assert reask[-2]["role"] == "assistant"
    assert reask[-2]["content"] == WRONG_TYPES
    assert "/team" in reask[-1]["content"]
    record = await execution(api, response)
    assert [a["kind"] for a in record["attempts"]] == ["ask", "reask"]
    assert record["attempts"][0]["raw_text"] == WRONG_TYPES
    assert {i["pointer"] for i in record["attempts"][0]["issues"]} >= {"/team", "/summary"}


async def test_tokens_and_cost_are_recorded(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await live_agent(api, model={"name": "fast"})
    upstream.script(Text(WRONG_TYPES), Valid(GOOD), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    record = await execution(api, response)
    attempts = record["attempts"]
    assert all(a["prompt_tokens"] > 0 and a["completion_tokens"] > 0 for a in attempts)
    expected = sum(
        a["prompt_tokens"] * PRICE_IN + a["completion_tokens"] * PRICE_OUT for a in attempts
    )
    assert record["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert record["prompt_tokens"] == sum(a["prompt_tokens"] for a in attempts)
    assert float(response.headers["x-specloom-cost-usd"]) == pytest.approx(expected, rel=1e-6)


async def test_fallback_serves_with_the_same_schema(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model={"name": "fast", "fallbacks": ["smart"]})
    upstream.script(Status(500), model="fake-fast")
    upstream.script(Valid(GOOD), model="fake-smart")
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 200
    assert response.headers["x-specloom-model"] == "openai/fake-smart"
    record = await execution(api, response)
    assert [(a["kind"], a["outcome"]) for a in record["attempts"]] == [
        ("ask", "server_error"),
        ("fallback", "valid"),
    ]
    fast, smart = upstream.requests
    assert fast.body["response_format"] == smart.body["response_format"]
    assert fast.body["response_format"]["type"] == "json_schema"
