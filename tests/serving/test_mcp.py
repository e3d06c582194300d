"""MCP at /mcp: the official SDK's client lists live agents as tools and calls one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import jsonschema
import pytest
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Tool

from app.jobs.mcp_tools import STATUS, SUBMIT
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Charged twice"}


def agent_tools(tools: list[Tool]) -> list[Tool]:
    """The agents' tools, without the job tools listed beside them."""
    return [t for t in tools if t.name not in (SUBMIT, STATUS)]


@asynccontextmanager
async def mcp_client(app: FastAPI, key: str = ADMIN_KEY) -> AsyncIterator[Client]:
    """An MCP client speaking streamable HTTP to the app (in process, through ASGI)."""
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {key}"},
    )
    async with http, Client(streamable_http_client("http://test/mcp", http_client=http)) as client:
        yield client


async def test_live_agents_are_tools_and_calls_are_executions(
    serving_app: FastAPI, api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "mcp-triage")
    upstream.script(Valid(GOOD), model="fake-fast")
    async with mcp_client(serving_app) as client:
        tools = agent_tools((await client.list_tools()).tools)
        assert [t.name for t in tools] == ["mcp-triage"]
        [triage] = tools
        document = make_document("mcp-triage")
        assert triage.input_schema == document["input_schema"]
        assert triage.output_schema == document["output_schema"]
        assert triage.description == document["description"]

        result = await client.call_tool("mcp-triage", INPUT)
    assert not result.is_error
    assert result.structured_content == GOOD
    jsonschema.validate(result.structured_content, triage.output_schema or {})
    assert upstream.calls() == 1
    assert result.meta is not None
    assert result.meta["specloom/version"] == 1
    recorded = await api.get(f"/v1/executions/{result.meta['specloom/execution_id']}")
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["agent"], recorded.json()["status"]) == ("mcp-triage", "succeeded")


async def test_the_tool_list_follows_publishes(
    serving_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await live_agent(api, "first-agent")
    async with mcp_client(serving_app) as client:
        assert [t.name for t in agent_tools((await client.list_tools()).tools)] == ["first-agent"]
    await live_agent(api, "second-agent")
    async with mcp_client(serving_app) as client:
        names = sorted(t.name for t in agent_tools((await client.list_tools()).tools))
    assert names == ["first-agent", "second-agent"]


async def test_invalid_input_is_an_error_result(
    serving_app: FastAPI, api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "mcp-strict")
    async with mcp_client(serving_app) as client:
        result = await client.call_tool("mcp-strict", {"subject": 12})
        missing = await client.call_tool("no-such-agent", INPUT)
    assert result.is_error
    assert '"status": 422' in result.content[0].text  # type: ignore[union-attr]
    assert missing.is_error
    assert '"status": 404' in missing.content[0].text  # type: ignore[union-attr]
    assert upstream.calls() == 0


@pytest.mark.parametrize("key", ["", "sk-sl-not-a-key"])
async def test_mcp_needs_a_key(serving_app: FastAPI, key: str) -> None:
    transport = httpx.ASGITransport(app=serving_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {key}" if key else ""},
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_key_limited_to_some_agents_sees_and_calls_only_those(
    serving_app: FastAPI, api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "allowed-agent")
    await live_agent(api, "hidden-agent")
    created = await api.post(
        "/api/keys", json={"name": "mcp", "scopes": ["invoke"], "agents": ["allowed-agent"]}
    )
    assert created.status_code == 201, created.text
    async with mcp_client(serving_app, created.json()["secret"]) as client:
        assert [t.name for t in agent_tools((await client.list_tools()).tools)] == ["allowed-agent"]
        hidden = await client.call_tool("hidden-agent", INPUT)
    assert hidden.is_error
    assert '"status": 403' in hidden.content[0].text  # type: ignore[union-attr]
    assert upstream.calls() == 0
