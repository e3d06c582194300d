"""`GET /metrics`: parsed with prometheus_client's own parser, counters moved by one call.

The default registry is process-wide, so every test reads the values before and after and
uses agents of its own.
"""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.upstream import FakeUpstream, Status, Text, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Charged twice"}
MODEL = "openai/fake-fast"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Every sample of `/metrics`, scraped without a key."""
    response = await client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_call_moves_every_counter_by_what_it_did(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    agent = "metrics-triage"
    await live_agent(api, agent)
    upstream.script(Text("no JSON here"), Valid(GOOD), model="fake-fast")
    before = await scrape(api)

    first = await api.post(f"/v1/agents/{agent}", json=INPUT)
    second = await api.post(f"/v1/agents/{agent}", json=INPUT)  # temperature 0: cached
    assert first.status_code == second.status_code == 200, first.text
    assert second.headers["x-specloom-cache"] == "hit"
    record = await execution(api, first)
    after = await scrape(api)

    request = {"agent": agent, "version": "1", "status": "200", "source": "api"}
    assert moved(before, after, "specloom_requests_total", **request) == 2
    assert moved(before, after, "specloom_request_seconds_count", **request) == 2
    assert moved(before, after, "specloom_request_seconds_bucket", **request, le="+Inf") == 2
    assert moved(before, after, "specloom_cache_total", result="hit") == 1
    assert moved(before, after, "specloom_cache_total", result="miss") == 1
    outcomes = [a["outcome"] for a in record["attempts"]]
    assert outcomes == ["unparseable", "valid"]
    for outcome in outcomes:
        assert (
            moved(before, after, "specloom_upstream_attempts_total", model=MODEL, outcome=outcome)
            == 1
        )
    assert moved(before, after, "specloom_upstream_seconds_count", model=MODEL) == 2
    prompt = sum(a["prompt_tokens"] for a in record["attempts"])
    completion = sum(a["completion_tokens"] for a in record["attempts"])
    assert prompt > 0
    assert moved(before, after, "specloom_tokens_total", model=MODEL, kind="prompt") == prompt
    assert moved(before, after, "specloom_tokens_total", model=MODEL, kind="completion") == (
        completion
    )
    cost = moved(before, after, "specloom_cost_usd_total", agent=agent, model=MODEL, source="api")
    assert abs(cost - float(record["cost_usd"])) < 1e-9
    assert cost > 0
    breakers = {
        dict(labels)["deployment"]: v
        for (name, labels), v in after.items()
        if name == "specloom_breaker_state"
    }
    assert breakers == {f"fast|{MODEL}|{upstream.base_url}": 0.0}
    assert ("specloom_executions_pending", frozenset()) in after


async def test_failures_count_under_their_status_and_open_breakers_show(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    agent = "metrics-outage"
    async with make_api(breaker_failures=1) as api:
        await live_agent(api, agent)
        upstream.script(Status(500), model="fake-fast")
        before = await scrape(api)
        response = await api.post(f"/v1/agents/{agent}", json=INPUT)
        assert response.status_code == 503, response.text
        refused = await api.post(f"/v1/agents/{agent}", json=INPUT)  # breaker open: no call
        assert refused.status_code == 503
        after = await scrape(api)

    labels = {"agent": agent, "version": "1", "status": "503", "source": "api"}
    assert moved(before, after, "specloom_requests_total", **labels) == 2
    assert (
        moved(
            before, after, "specloom_upstream_attempts_total", model=MODEL, outcome="server_error"
        )
        == 1
    )
    assert upstream.calls() == 1
    assert {
        dict(labels)["deployment"]: v
        for (name, labels), v in after.items()
        if name == "specloom_breaker_state"
    } == {f"fast|{MODEL}|{upstream.base_url}": 2.0}


async def test_metrics_need_no_key_and_are_not_in_the_api_document(
    api: httpx.AsyncClient,
) -> None:
    anonymous = await api.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 200
    assert "specloom_executions_pending 0.0" in anonymous.text
    document = (await api.get("/openapi.json")).json()
    assert "/metrics" not in json.dumps(document["paths"])
