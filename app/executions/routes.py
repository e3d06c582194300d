"""Reading executions back: one by id (`/v1`, the caller's own) and the log (`/api/executions`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from app.core.database import SessionDep
from app.core.errors import BadRequest, responses
from app.core.schemas import Cursor, Filter, Timestamp
from app.executions import queries
from app.executions.schemas import ExecutionPage, ExecutionRead, ExecutionSummary
from app.executions.usage import UsageReport, usage_report
from app.executions.writer import ExecutionWriter
from app.security.auth import (
    Forbidden,
    InvokeDep,
    RateLimited,
    Unauthorized,
    requires,
)

router = APIRouter(
    tags=["agents"],
    dependencies=[requires("invoke")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)
admin_router = APIRouter(
    prefix="/api/executions",
    tags=["executions"],
    dependencies=[requires("viewer")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)

usage_router = APIRouter(
    prefix="/api",
    dependencies=[requires("viewer")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)


async def execution_writer(request: Request) -> ExecutionWriter:
    """This process's execution writer (the app's runtime holds it)."""
    writer: ExecutionWriter = request.app.state.runtime.writer
    return writer


WriterDep = Annotated[ExecutionWriter, Depends(execution_writer)]


SourceFilter = Annotated[
    list[queries.SourceChoice] | None,
    Query(
        description="Who called: api, mcp, job (production: the default), playground, test, "
        "judge, case-writer; `all` for every source. Repeat the parameter for several."
    ),
]


@usage_router.get("/usage", tags=["usage"])
async def get_usage(
    session: SessionDep,
    agent: Filter = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    source: SourceFilter = None,
) -> UsageReport:
    """Tokens and cost per UTC day, agent, version and model, with totals: production
    traffic unless `source` asks for others."""
    return await usage_report(
        session, agent=agent, since=since, until=until, sources=queries.sources_of(source)
    )


@router.get(
    "/v1/executions/{execution_id}",
    responses=responses(queries.ExecutionNotFound),
)
async def read_execution(
    execution_id: uuid.UUID, session: SessionDep, writer: WriterDep, principal: InvokeDep
) -> ExecutionRead:
    """One execution with every model attempt, its tokens, cost and latency."""
    await writer.wait_written(execution_id)
    execution = await queries.get_execution(session, execution_id)
    if not principal.is_admin and execution.api_key_id != principal.key_id:
        # 404, not 403: another key's execution ids must not be confirmed to exist.
        raise queries.ExecutionNotFound(f"no execution {execution_id}")
    return ExecutionRead.model_validate(execution)


@admin_router.get("", responses=responses(BadRequest))
async def list_executions(
    session: SessionDep,
    agent: Filter = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Literal["succeeded", "failed"] | None = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    source: SourceFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> ExecutionPage:
    """The execution log, newest first, filtered by agent, version, status, time and who
    called (production traffic unless `source` asks for others)."""
    rows, next_cursor = await queries.list_executions(
        session,
        agent=agent,
        version=version,
        status=status,
        since=since,
        until=until,
        sources=queries.sources_of(source),
        limit=limit,
        cursor=cursor,
    )
    return ExecutionPage(
        items=[ExecutionSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )
