"""Production traffic apart from test traffic: every execution says who called, and the log,
usage and metrics count production (api, mcp, job) unless asked for other sources."""

from __future__ import annotations

import httpx

from tests.evaluation.helpers import BILLING, case_body, start_run
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import live_agent
from tests.serving.test_metrics import moved, scrape

INPUT = {"subject": "Refund", "body": "I was charged twice"}


async def test_test_runs_stay_out_of_the_production_log_and_usage(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "sourced")
    before = await scrape(api)
    upstream.script(Valid(BILLING), Valid(BILLING))
    called = await api.post("/v1/agents/sourced", json=INPUT)
    assert called.status_code == 200, called.text
    assert (await api.post("/api/specs/sourced/cases", json=case_body())).status_code == 201
    run = await start_run(api, "sourced", 1)
    assert run["status"] == "passed"
    # The test call's record goes through the batched writer: reading it waits for it.
    test_execution = run["cases"][0]["runs"][0]["execution_id"]
    assert (await api.get(f"/v1/executions/{test_execution}")).status_code == 200
    after = await scrape(api)

    async def listed(query: str = "") -> list[tuple[str, str]]:
        response = await api.get(f"/api/executions?agent=sourced{query}")
        assert response.status_code == 200, response.text
        return [(e["source"], e["id"]) for e in response.json()["items"]]

    production = await listed()
    assert production == [("api", called.headers["x-specloom-execution-id"])]
    tests = await listed("&source=test")
    assert [source for source, _ in tests] == ["test"]
    assert tests[0][1] == run["cases"][0]["runs"][0]["execution_id"]
    assert sorted(s for s, _ in await listed("&source=all")) == ["api", "test"]
    assert sorted(s for s, _ in await listed("&source=api&source=test")) == ["api", "test"]

    usage = (await api.get("/api/usage?agent=sourced")).json()
    assert usage["totals"]["calls"] == 1
    everything = (await api.get("/api/usage?agent=sourced&source=all")).json()
    assert everything["totals"]["calls"] == 2

    one = (await api.get(f"/v1/executions/{tests[0][1]}")).json()
    assert one["source"] == "test"
    labels = {"agent": "sourced", "version": "1", "status": "200"}
    assert moved(before, after, "specloom_requests_total", **labels, source="api") == 1
    assert moved(before, after, "specloom_requests_total", **labels, source="test") == 1


async def test_an_unknown_source_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/executions?source=prod")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    # Where the bad value is, not which branch of the type pydantic tried.
    assert {e["pointer"] for e in response.json()["errors"]} == {"query:/source/0"}
    usage = await api.get("/api/usage?source=nope")
    assert usage.status_code == 422
