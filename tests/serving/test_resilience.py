"""Resilient model calls against the fake upstream: retries, fallbacks, breakers, deadlines,
escalation, budgets and usage."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, Hang, Status, Text, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Double charge"}
WRONG = json.dumps({"team": 1, "priority": "normal", "summary": "x"})
FAST_AND_SMART = {"name": "fast", "fallbacks": ["smart"]}


async def test_primary_5xx_is_retried_then_the_fallback_serves(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(max_retries=2, retry_base_s=0.01) as api:
        await live_agent(api, model=FAST_AND_SMART)
        upstream.script(Status(500), Status(502), Status(503), model="fake-fast")
        upstream.script(Valid(GOOD), model="fake-smart")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert response.status_code == 200
        assert response.headers["x-specloom-model"] == "openai/fake-smart"
        record = await execution(api, response)
    assert [(a["kind"], a["outcome"]) for a in record["attempts"]] == [
        ("ask", "server_error"),
        ("retry", "server_error"),
        ("retry", "server_error"),
        ("fallback", "valid"),
    ]
    assert upstream.calls("fake-fast") == 3
    assert "HTTP 503" in record["attempts"][2]["error"]


async def test_a_4xx_caused_by_the_request_is_not_retried(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(max_retries=3, retry_base_s=0.01) as api:
        await live_agent(api, model={"name": "fast"})
        upstream.script(Status(400), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 502
    assert response.json()["type"].endswith("/model-request-rejected")
    assert upstream.calls("fake-fast") == 1


async def test_retry_after_is_honoured(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(max_retries=1, retry_base_s=0.01, attempt_timeout_s=5.0) as api:
        await live_agent(api, model={"name": "fast"})
        upstream.script(Status(429, headers={"Retry-After": "1"}), Valid(GOOD), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert response.status_code == 200
        record = await execution(api, response)
    first, second = upstream.requests
    assert second.received_at - first.received_at >= 1.0
    assert [a["outcome"] for a in record["attempts"]] == ["rate_limited", "valid"]


async def test_a_hang_hits_the_attempt_timeout_then_the_fallback(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(attempt_timeout_s=0.3) as api:
        await live_agent(api, model=FAST_AND_SMART)
        upstream.script(Hang(3.0), model="fake-fast")
        started = time.monotonic()
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        elapsed = time.monotonic() - started
        record = await execution(api, response)
    assert response.status_code == 200
    assert elapsed < 2.0
    assert [a["outcome"] for a in record["attempts"]] == ["timeout", "valid"]
    assert record["attempts"][0]["latency_ms"] == pytest.approx(300, abs=150)


async def test_the_deadline_gives_504(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(attempt_timeout_s=5.0, max_retries=3) as api:
        await live_agent(api, model=FAST_AND_SMART)
        upstream.script(Hang(3.0), model="fake-fast")
        upstream.script(Hang(3.0), model="fake-smart")
        started = time.monotonic()
        response = await api.post(
            "/v1/agents/ticket-triage", json=INPUT, headers={"X-Specloom-Deadline-Ms": "400"}
        )
        elapsed = time.monotonic() - started
        bad = await api.post(
            "/v1/agents/ticket-triage", json=INPUT, headers={"X-Specloom-Deadline-Ms": "soon"}
        )
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["retryable"] is True
    assert elapsed < 1.5
    # The primary's fair share of the deadline left room to try the fallback, once each.
    assert upstream.calls("fake-fast") == upstream.calls("fake-smart") == 1
    assert bad.status_code == 422


async def test_breaker_opens_skips_the_model_and_recovers(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(breaker_failures=3, breaker_cooldown_s=0.5) as api:
        await live_agent(api, model=FAST_AND_SMART)
        upstream.script(*[Status(500)] * 3, model="fake-fast")
        for _ in range(3):
            assert (await api.post("/v1/agents/ticket-triage", json=INPUT)).status_code == 200
        assert upstream.calls("fake-fast") == 3
        models = (await api.get("/api/models")).json()["items"]
        fast = next(m for m in models if m["alias"] == "fast")
        assert fast["state"] == "open"
        assert fast["recent_error_rate"] == 1.0

        # Open: the primary is not called at all; the fallback answers straight away.
        skipped = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert skipped.status_code == 200
        assert upstream.calls("fake-fast") == 3
        record = await execution(api, skipped)
        assert [a["outcome"] for a in record["attempts"]] == ["breaker_open", "valid"]

        await asyncio.sleep(0.6)  # cooldown over: one probe goes to the primary, and succeeds
        probe = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert probe.headers["x-specloom-model"] == "openai/fake-fast"
        assert upstream.calls("fake-fast") == 4
        models = (await api.get("/api/models")).json()["items"]
        assert next(m for m in models if m["alias"] == "fast")["state"] == "closed"


@pytest.mark.parametrize(
    ("fast_script", "status", "smart_calls"),
    [
        pytest.param([Valid(GOOD)], 200, 0, id="valid output stays on the cheap model"),
        pytest.param([Text(WRONG), Text(WRONG)], 200, 1, id="invalid output escalates"),
        pytest.param([Status(500)], 503, 0, id="an unavailable model does not escalate"),
    ],
)
async def test_escalation_only_on_invalid_output(
    api: httpx.AsyncClient,
    upstream: FakeUpstream,
    fast_script: list[Valid | Text | Status],
    status: int,
    smart_calls: int,
) -> None:
    await live_agent(api, model={"name": "fast", "escalation": ["smart"]})
    upstream.script(*fast_script, model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == status
    assert upstream.calls("fake-smart") == smart_calls
    if smart_calls:
        assert response.headers["x-specloom-model"] == "openai/fake-smart"
        record = await execution(api, response)
        assert [a["kind"] for a in record["attempts"]] == ["ask", "reask", "escalation"]
        schemas = {json.dumps(r.body["response_format"], sort_keys=True) for r in upstream.requests}
        assert len(schemas) == 1  # the strong model gets the very same contract


async def test_budget_exhaustion_is_429_with_reset_time(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(budget_refresh_s=0) as api:
        await live_agent(api, model={"name": "fast"})
        created = await api.post(
            "/api/budgets",
            json={
                "scope": "agent",
                "agent": "ticket-triage",
                "period": "day",
                "limit_usd": "0.000001",
            },
        )
        assert created.status_code == 201, created.text
        first = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert first.status_code == 200
        await api.get(f"/v1/executions/{first.headers['x-specloom-execution-id']}")  # flushed
        second = await api.post("/v1/agents/ticket-triage", json=INPUT)
        budgets = (await api.get("/api/budgets")).json()["items"]
    assert second.status_code == 429
    problem = second.json()
    assert problem["type"].endswith("/budget-exceeded")
    assert "resets at" in problem["detail"]
    assert problem["resets_at"].endswith("T00:00:00+00:00")
    assert int(second.headers["retry-after"]) > 0
    assert upstream.calls() == 1
    assert budgets[0]["spent_usd"] == pytest.approx(float(first.headers["x-specloom-cost-usd"]))


async def test_budget_can_downgrade_instead_of_refusing(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(budget_refresh_s=0) as api:
        await live_agent(api, model={"name": "smart"})
        await api.post(
            "/api/budgets",
            json={
                "scope": "global",
                "period": "month",
                "limit_usd": "0.000001",
                "on_exceed": "downgrade",
                "downgrade_model": "fast",
            },
        )
        first = await api.post("/v1/agents/ticket-triage", json=INPUT)
        await api.get(f"/v1/executions/{first.headers['x-specloom-execution-id']}")
        second = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert first.headers["x-specloom-model"] == "openai/fake-smart"
    assert second.status_code == 200
    assert second.headers["x-specloom-model"] == "openai/fake-fast"


async def test_usage_aggregates_equal_the_sum_of_execution_costs(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model=FAST_AND_SMART)
    upstream.script(Text(WRONG), Valid(GOOD), Status(500), model="fake-fast")
    costs = []
    for _ in range(3):
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        costs.append((await execution(api, response))["cost_usd"])
    usage = (await api.get("/api/usage", params={"agent": "ticket-triage"})).json()
    assert usage["totals"]["calls"] == 3
    assert usage["totals"]["cost_usd"] == pytest.approx(sum(costs))
    assert sum(row["cost_usd"] for row in usage["items"]) == pytest.approx(sum(costs))
    models = {row["model"] for row in usage["items"]}
    assert models == {"openai/fake-fast", "openai/fake-smart"}


async def test_models_endpoint_lists_aliases_without_secrets(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/models")
    assert response.status_code == 200
    body = response.json()
    assert body["offline"] is False
    assert {(m["alias"], m["model"]) for m in body["items"]} == {
        ("fast", "openai/fake-fast"),
        ("smart", "openai/fake-smart"),
    }
    assert "sk-fake-provider-key" not in response.text


async def test_downgraded_answers_are_not_cached(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(budget_refresh_s=0) as api:
        await live_agent(api, model={"name": "smart", "temperature": 0})
        await api.post(
            "/api/budgets",
            json={
                "scope": "global",
                "period": "day",
                "limit_usd": "0.000001",
                "on_exceed": "downgrade",
                "downgrade_model": "fast",
            },
        )
        first = await api.post("/v1/agents/ticket-triage", json=INPUT)
        await api.get(f"/v1/executions/{first.headers['x-specloom-execution-id']}")
        other = {**INPUT, "body": "Another ticket entirely."}
        downgraded = await api.post("/v1/agents/ticket-triage", json=other)
        again = await api.post("/v1/agents/ticket-triage", json=other)
        repeat_first = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert downgraded.headers["x-specloom-model"] == "openai/fake-fast"
    assert again.headers["x-specloom-cache"] == "miss"
    assert upstream.calls("fake-fast") == 2
    assert repeat_first.headers["x-specloom-cache"] == "hit"  # the full-price answer is kept
