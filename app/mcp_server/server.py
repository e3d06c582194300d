"""The MCP server: every live agent is a tool whose schemas are the spec's own.

Stateless streamable HTTP with JSON responses: each POST carries one JSON-RPC message and
gets its answer, so any API process can serve any request, like `/v1`. Tool calls go
through the same path as `POST /v1/agents/{name}` (`app.serving.call`: cache, models, execution
log, metrics), authenticated by the same API keys. The tool list is read from the live
agents on every `tools/list`, so it follows publishes and rollbacks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from fastapi import FastAPI, Request
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from app.core.errors import ProblemError, problem_response
from app.jobs.mcp_tools import STATUS, SUBMIT, call_job_tool, job_tools
from app.security.auth import Principal, authenticate, check_agent, require_invoke
from app.serving.call import call
from app.serving.context import Runtime
from app.serving.live import AgentVersion

PRINCIPAL = "mcp_principal"


def tool(agent: AgentVersion) -> types.Tool:
    """The MCP tool of one live agent."""
    document = agent.document
    return types.Tool(
        name=agent.name,
        title=document.title,
        description=document.description or document.title,
        input_schema=document.input_schema,
        output_schema=document.output_schema,
    )


def _caller(ctx: ServerRequestContext[Any, Any]) -> tuple[Runtime, Principal, str | None]:
    request = ctx.request
    if not isinstance(request, Request):
        raise RuntimeError("MCP tools are served over HTTP only")
    state = request.scope.get("state", {})
    runtime: Runtime = request.scope["app"].state.runtime
    return runtime, state[PRINCIPAL], state.get("request_id")


async def list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    """The live agents this key may call."""
    runtime, principal, _ = _caller(ctx)
    agents = await runtime.live.all_live()
    tools = [tool(a) for a in agents if principal.may_call(a.name)]
    return types.ListToolsResult(tools=tools + job_tools())  # job tools


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    """Call the agent named by the tool; problems come back as error results."""
    runtime, principal, request_id = _caller(ctx)
    if params.name in (SUBMIT, STATUS):  # job tools
        app = ctx.request.scope["app"]  # type: ignore[union-attr]
        return await call_job_tool(app, params.name, params.arguments or {}, principal, request_id)
    try:
        check_agent(principal, params.name)
        agent = await runtime.live.get(params.name)
    except ProblemError as problem:
        return _error(problem.problem(request_id))
    try:
        result = await call(
            runtime.context,
            agent,
            params.arguments or {},
            source="mcp",
            api_key_id=principal.key_id,
            request_id=request_id,
        )
    except ProblemError as problem:  # a bad file input, before any model
        return _error(problem.problem(request_id))
    if result.problem is not None:
        body = result.problem.problem(request_id)
        body["execution_id"] = str(result.record.id)
        return _error(body)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(result.output))],
        structured_content=result.output,
        meta={"specloom/execution_id": str(result.record.id), "specloom/version": agent.version},
    )


def _error(problem: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(problem))], is_error=True
    )


def build_server() -> Server[Any]:
    return Server(
        "specloom",
        version="0.1.0",
        instructions="Each tool is a Specloom agent: typed input, schema-valid output.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP session manager for the app's lifespan (a manager runs only once).

    Its task group lives in a task of its own: anyio requires a task group to be left by the
    task that entered it, and a lifespan may be entered and left by different tasks.
    """
    manager = StreamableHTTPSessionManager(app=build_server(), stateless=True, json_response=True)
    app.state.mcp = manager
    ready, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        async with manager.run():
            ready.set()
            await stop.wait()

    task = asyncio.create_task(serve(), name="mcp-session-manager")
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # it failed to start: raise why
    try:
        yield
    finally:
        stop.set()
        await task


class McpEndpoint:
    """`/mcp`: authenticate like `/v1` (a key with `invoke` or `admin`), then speak MCP."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            principal = await require_invoke(await authenticate(request))
        except ProblemError as problem:
            body = problem.problem(scope.get("state", {}).get("request_id"))
            response = problem_response(problem.status, body, problem.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        manager: StreamableHTTPSessionManager = request.app.state.mcp
        await manager.handle_request(scope, receive, send)
