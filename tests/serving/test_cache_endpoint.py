"""The response cache through the API: hits skip the models, misses are shared by identical
concurrent calls, and what must not be cached (other inputs, versions, no-cache, sampling
temperatures, failures) is not. The fake upstream's call counter is the witness."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.main import create_app
from app.serving.cache import ResponseCache
from tests.conftest import ADMIN_KEY
from tests.factories import add_version, publish
from tests.fakes.upstream import Delay, FakeUpstream, Status, Valid
from tests.serving.conftest import execution, live_agent

URL = "/v1/agents/ticket-triage"
INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
ANSWER = {"team": "billing", "priority": "normal", "summary": "Charged twice"}
OTHER = {"team": "technical", "priority": "high", "summary": "Something else"}


async def test_a_repeated_call_is_a_hit_with_its_own_record(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    upstream.script(Valid(ANSWER))
    first = await api.post(URL, json=INPUT)
    second = await api.post(URL, json={"body": INPUT["body"], "subject": INPUT["subject"]})
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() == ANSWER
    assert upstream.calls() == 1
    assert first.headers["x-specloom-cache"] == "miss"
    assert second.headers["x-specloom-cache"] == "hit"
    assert second.headers["x-specloom-version"] == "1"
    assert second.headers["x-specloom-model"] == first.headers["x-specloom-model"]
    assert second.headers["x-specloom-cost-usd"] == "0.00000000"
    assert float(first.headers["x-specloom-cost-usd"]) > 0
    ids = {r.headers["x-specloom-execution-id"] for r in (first, second)}
    assert len(ids) == 2

    missed, hit = await execution(api, first), await execution(api, second)
    assert (missed["cache"], hit["cache"]) == ("miss", "hit")
    assert len(missed["attempts"]) == 1
    assert hit["attempts"] == []
    assert hit["status"] == "succeeded"
    assert hit["output"] == ANSWER
    assert float(hit["cost_usd"]) == 0
    assert hit["model"] == missed["model"]


async def test_other_inputs_and_versions_miss_and_pinning_keeps_them_apart(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    upstream.script(Valid(ANSWER), Valid(OTHER), Valid(OTHER))
    assert (await api.post(URL, json=INPUT)).headers["x-specloom-cache"] == "miss"
    other_input = await api.post(URL, json={**INPUT, "subject": "Another refund"})
    assert other_input.headers["x-specloom-cache"] == "miss"
    assert upstream.calls() == 2

    await add_version(api, "ticket-triage", 1, rules=["Everything goes to technical."])
    await publish(api, "ticket-triage", 2)
    v2 = await api.post(URL, json=INPUT)
    assert (v2.headers["x-specloom-cache"], v2.headers["x-specloom-version"]) == ("miss", "2")
    assert v2.json() == OTHER
    assert upstream.calls() == 3

    pinned = await api.post(f"{URL}?version=1", json=INPUT)
    assert (pinned.headers["x-specloom-cache"], pinned.json()) == ("hit", ANSWER)
    assert (await api.post(URL, json=INPUT)).json() == OTHER  # v2's own entry
    assert upstream.calls() == 3


async def test_no_cache_asks_the_model_and_stores_the_fresh_answer(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    upstream.script(Valid(ANSWER), Valid(OTHER))
    await api.post(URL, json=INPUT)
    fresh = await api.post(URL, json=INPUT, headers={"Cache-Control": "no-cache"})
    assert fresh.headers["x-specloom-cache"] == "miss"
    assert fresh.json() == OTHER
    assert upstream.calls() == 2
    after = await api.post(URL, json=INPUT)
    assert (after.headers["x-specloom-cache"], after.json()) == ("hit", OTHER)
    assert upstream.calls() == 2


@dataclass(frozen=True)
class PolicyCase:
    name: str
    model: dict[str, Any]
    cached: bool


POLICY_CASES = [
    PolicyCase("temperature 0", {"name": "fast", "temperature": 0}, cached=True),
    PolicyCase("temperature 0.7", {"name": "fast", "temperature": 0.7}, cached=False),
    PolicyCase("0.7 with cache on", {"name": "fast", "temperature": 0.7, "cache": True}, True),
    PolicyCase("0 with cache off", {"name": "fast", "temperature": 0, "cache": False}, False),
]


@pytest.mark.parametrize("case", POLICY_CASES, ids=lambda c: c.name)
async def test_the_spec_decides_what_is_cached(
    api: httpx.AsyncClient, upstream: FakeUpstream, case: PolicyCase
) -> None:
    await live_agent(api, model=case.model)
    answers = [await api.post(URL, json=INPUT) for _ in range(3)]
    assert all(a.status_code == 200 for a in answers)
    assert upstream.calls() == (1 if case.cached else 3)
    expected = ["miss", "hit", "hit"] if case.cached else ["miss"] * 3
    assert [a.headers["x-specloom-cache"] for a in answers] == expected


async def test_identical_concurrent_calls_make_one_upstream_call(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    upstream.script(Delay(0.3, Valid(ANSWER)))
    answers = await asyncio.gather(*(api.post(URL, json=INPUT) for _ in range(50)))
    assert upstream.calls() == 1
    assert [a.status_code for a in answers] == [200] * 50
    assert all(a.json() == ANSWER for a in answers)
    caches = sorted(a.headers["x-specloom-cache"] for a in answers)
    assert caches == ["hit"] * 49 + ["miss"]
    assert len({a.headers["x-specloom-execution-id"] for a in answers}) == 50


async def test_failures_are_not_cached(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await live_agent(api)
    upstream.script(Status(502), Valid(ANSWER))
    failed = await api.post(URL, json=INPUT)
    assert failed.status_code >= 500
    assert failed.headers["x-specloom-cache"] == "miss"
    served = await api.post(URL, json=INPUT)
    assert (served.status_code, served.headers["x-specloom-cache"]) == (200, "miss")
    assert upstream.calls() == 2
    assert (await api.post(URL, json=INPUT)).headers["x-specloom-cache"] == "hit"
    assert upstream.calls() == 2


async def test_processes_share_entries_through_postgres(
    serving_app: FastAPI,
    api: httpx.AsyncClient,
    upstream: FakeUpstream,
    serving_settings: Settings,
) -> None:
    await live_agent(api)
    upstream.script(Valid(ANSWER))
    assert (await api.post(URL, json=INPUT)).headers["x-specloom-cache"] == "miss"
    cache: ResponseCache = serving_app.state.runtime.cache
    await cache.flush()  # what the background writer does within 50 ms
    second = create_app(serving_settings)  # another server process on the same database
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second),
            base_url="http://test",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as other,
    ):
        answer = await other.post(URL, json=INPUT)
    assert (answer.headers["x-specloom-cache"], answer.json()) == ("hit", ANSWER)
    assert upstream.calls() == 1


async def test_outputs_with_sensitive_fields_are_never_cached(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    output_schema = {
        "type": "object",
        "properties": {
            "team": {"enum": ["billing", "technical", "sales", "security"]},
            "priority": {"enum": ["low", "normal", "high", "urgent"]},
            "summary": {"type": "string", "x-sensitive": True},
        },
        "required": ["team", "priority", "summary"],
        "additionalProperties": False,
    }
    await live_agent(
        api, model={"name": "fast", "temperature": 0, "cache": True}, output_schema=output_schema
    )
    answers = [await api.post(URL, json=INPUT) for _ in range(2)]
    assert [a.headers["x-specloom-cache"] for a in answers] == ["miss", "miss"]
    assert upstream.calls() == 2
