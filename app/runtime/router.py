"""The typed agent endpoints (`/v1`) and the execution log (`/api/executions`)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from app.core.auth import AdminDep, Unauthorized, require_admin
from app.core.database import SessionDep
from app.core.errors import BadRequest, problem_response, responses
from app.runtime import queries
from app.runtime.context import RuntimeDep
from app.runtime.live import AgentNotFound, AgentNotLive
from app.runtime.openapi import standalone_document
from app.runtime.pipeline import execute
from app.runtime.schemas import ExecutionPage, ExecutionRead, ExecutionSummary

router = APIRouter(tags=["agents"], responses=responses(Unauthorized))
admin_router = APIRouter(
    prefix="/api/executions",
    tags=["executions"],
    dependencies=[Depends(require_admin)],
    responses=responses(Unauthorized),
)


def _json_body(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None


@router.post("/v1/agents/{name}", include_in_schema=False)
async def invoke_agent(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    principal: AdminDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Call an agent: the body is its input, the answer its typed output."""
    agent = await runtime.live.get(name, version)
    payload = _json_body(await request.body())
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    result = await execute(
        agent, payload, catalog=runtime.catalog, options=runtime.options, request_id=request_id
    )
    runtime.writer.submit(result.record)
    record = result.record
    headers = {
        "X-Specloom-Execution-Id": str(record.id),
        "X-Specloom-Version": str(agent.version),
        "X-Specloom-Cache": record.cache,
        "X-Specloom-Cost-Usd": f"{record.cost_usd:.8f}",
    }
    if record.model:
        headers["X-Specloom-Model"] = record.model
    if record.offline:
        headers["X-Specloom-Offline"] = "true"
    if result.problem is not None:
        body = result.problem.problem(request_id)
        body["execution_id"] = str(record.id)
        return problem_response(result.problem.status, body, {**headers, **result.problem.headers})
    return JSONResponse(result.output, headers=headers)


@router.get("/v1/agents/{name}/openapi.json", responses=responses(AgentNotFound, AgentNotLive))
async def agent_openapi(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    """A standalone OpenAPI document for one agent, to generate a typed client from."""
    agent = await runtime.live.get(name, version)
    server = str(request.base_url).rstrip("/")
    return JSONResponse(
        standalone_document(agent, server),
        headers={"Content-Disposition": f'attachment; filename="{name}.openapi.json"'},
    )


@router.get(
    "/v1/executions/{execution_id}",
    responses=responses(queries.ExecutionNotFound),
    dependencies=[Depends(require_admin)],
)
async def read_execution(
    execution_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep
) -> ExecutionRead:
    """One execution with every model attempt, its tokens, cost and latency."""
    await runtime.writer.wait_written(execution_id)
    execution = await queries.get_execution(session, execution_id)
    return ExecutionRead.model_validate(execution)


@admin_router.get("", responses=responses(BadRequest))
async def list_executions(
    session: SessionDep,
    agent: str | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    status: Literal["succeeded", "failed"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> ExecutionPage:
    """The execution log, newest first, filtered by agent, version, status and time."""
    rows, next_cursor = await queries.list_executions(
        session,
        agent=agent,
        version=version,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return ExecutionPage(
        items=[ExecutionSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )
