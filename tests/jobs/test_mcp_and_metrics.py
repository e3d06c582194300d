"""Jobs through MCP tools, and the queue's gauges on /metrics."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.jobs.conftest import ticket
from tests.serving.conftest import live_agent
from tests.serving.test_mcp import mcp_client


async def test_an_agent_call_runs_as_a_job_and_its_status_is_a_tool(
    jobs_app: FastAPI, jobs_api: httpx.AsyncClient
) -> None:
    await live_agent(jobs_api)
    async with mcp_client(jobs_app) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"submit_job", "job_status", "ticket-triage"} <= names
        submitted = await client.call_tool(
            "submit_job", {"agent": "ticket-triage", "input": ticket(1)}
        )
        assert not submitted.is_error, submitted.content
        assert submitted.structured_content is not None
        job_id = submitted.structured_content["id"]
        assert (submitted.structured_content["status"], submitted.structured_content["total"]) == (
            "queued",
            1,
        )
        status = await client.call_tool("job_status", {"job_id": job_id})
        assert status.structured_content is not None
        assert status.structured_content["id"] == job_id
        missing = await client.call_tool("job_status", {"job_id": "not-a-uuid"})
        assert missing.is_error
        unknown = await client.call_tool("submit_job", {"agent": "nobody", "input": {}})
        assert unknown.is_error
    listed = await jobs_api.get(f"/v1/jobs/{job_id}")
    assert listed.status_code == 200


async def test_metrics_count_items_by_status(jobs_api: httpx.AsyncClient) -> None:
    await live_agent(jobs_api)
    await jobs_api.post("/v1/agents/ticket-triage/jobs", json={"inputs": [ticket(1), ticket(2)]})
    cancel = await jobs_api.post("/v1/agents/ticket-triage/jobs", json={"input": ticket(3)})
    await jobs_api.post(f"/v1/jobs/{cancel.json()['id']}/cancel")
    text = (await jobs_api.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    items = {
        s.labels["status"]: s.value
        for s in families["specloom_job_items"].samples
        if s.labels["agent"] == "ticket-triage"
    }
    assert items["queued"] == 2
    assert items["cancelled"] == 1
    depth = {s.labels["task"]: s.value for s in families["specloom_job_queue_depth"].samples}
    assert depth == {"specloom.run_item": 2}  # the cancelled item's task left the queue
