"""The jobs API: `/v1` for callers (their own jobs), `/api/jobs` for the admin listing."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.jobs import service
from app.jobs.schemas import ItemResult, JobCreate, JobPage, JobRead, JobStatus
from app.jobs.views import JSON_LINES, create_job, job_read, job_reads, result_lines
from app.jobs.webhooks import WebhookRefused
from app.security.auth import (
    Forbidden,
    InvokeDep,
    RateLimited,
    Unauthorized,
    requires,
)
from app.serving.context import RuntimeDep
from app.serving.live import AgentNotFound

router = APIRouter(
    tags=["jobs"],
    dependencies=[requires("invoke")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)
admin_router = APIRouter(
    prefix="/api/jobs",
    tags=["jobs"],
    dependencies=[requires("viewer")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)

# OpenAPI links: what a client (or schemathesis' stateful phase) does with the new job's id.
_JOB_LINKS = {
    f"{verb}Job{suffix}": {"operationId": operation, "parameters": {"job_id": "$response.body#/id"}}
    for verb, suffix, operation in (
        ("Get", "", "read_job"),
        ("Get", "Results", "job_results"),
        ("Cancel", "", "cancel_job"),
    )
}


@router.post(
    "/v1/agents/{name}/jobs",
    status_code=202,
    operation_id="submit_job",
    responses={
        202: {"description": "The job, queued", "links": _JOB_LINKS},
        **responses(AgentNotFound, service.BatchTooLarge, InvalidInput, WebhookRefused),
    },
)
async def submit_job(
    name: str,
    body: JobCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: InvokeDep,
) -> JobRead:
    """Run an agent asynchronously on one input or a batch; poll the job or get a webhook."""
    job, created = await create_job(
        session,
        runtime=runtime,
        settings=request.app.state.settings,
        principal=principal,
        agent_name=name,
        body=body,
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return await job_read(session, job)


@router.get("/v1/jobs/{job_id}", operation_id="read_job", responses=responses(service.JobNotFound))
async def read_job(job_id: uuid.UUID, session: SessionDep, principal: InvokeDep) -> JobRead:
    """A job's status, counts, progress, cost so far and webhook deliveries."""
    return await job_read(session, await service.get_job(session, job_id, principal))


@router.get(
    "/v1/jobs/{job_id}/results",
    operation_id="job_results",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One JSON object per line, per input, in input order",
            "content": {JSON_LINES: {"schema": ItemResult.model_json_schema()}},
        },
        **responses(service.JobNotFound),
    },
)
async def job_results(
    job_id: uuid.UUID, request: Request, session: SessionDep, principal: InvokeDep
) -> StreamingResponse:
    """Per-input output or error, in input order, as JSON Lines (streamed)."""
    await service.get_job(session, job_id, principal)
    return StreamingResponse(
        result_lines(request.app.state.sessionmaker, job_id), media_type=JSON_LINES
    )


@router.post(
    "/v1/jobs/{job_id}/cancel",
    operation_id="cancel_job",
    responses=responses(service.JobNotFound),
)
async def cancel_job(job_id: uuid.UUID, session: SessionDep, principal: InvokeDep) -> JobRead:
    """Cancel the items not started yet (running ones finish); the job ends as cancelled.

    An action, not a DELETE: the job, its results so far and its status stay readable.
    """
    return await job_read(session, await service.cancel_job(session, job_id, principal))


@admin_router.get("", operation_id="list_jobs")
async def list_jobs(
    session: SessionDep,
    agent: str | None = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """Every key's jobs, newest first, filtered by agent and status."""
    jobs = await service.list_jobs(session, agent=agent, status=status, limit=limit)
    return JobPage(items=await job_reads(session, jobs))
