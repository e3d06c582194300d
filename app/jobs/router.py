"""The jobs API: `/v1` for callers (their own jobs), `/api/jobs` for the admin listing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import (
    Forbidden,
    InvokeDep,
    RateLimited,
    Unauthorized,
    check_agent,
    require_admin,
)
from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.settings import Settings
from app.jobs import service
from app.jobs.schemas import ItemResult, JobCreate, JobPage, JobRead, WebhookAttempt
from app.jobs.webhooks import WebhookRefused, check_url
from app.models import Job
from app.runtime.context import RuntimeDep
from app.runtime.live import AgentNotFound

router = APIRouter(tags=["jobs"], responses=responses(Unauthorized, Forbidden, RateLimited))
admin_router = APIRouter(
    prefix="/api/jobs",
    tags=["jobs"],
    dependencies=[Depends(require_admin)],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)

JSON_LINES = "application/jsonl"


async def job_read(session: AsyncSession, job: Job) -> JobRead:
    """The job as the API shows it, with counts and deliveries read now."""
    tally = await service.counts(session, job.id)
    finished = tally["succeeded"] + tally["failed"] + tally["cancelled"]
    return JobRead(
        id=job.id,
        agent=job.agent,
        version=job.version,
        status=service.live_status(job, tally),
        total=job.total,
        queued=tally["queued"],
        running=tally["running"],
        succeeded=tally["succeeded"],
        failed=tally["failed"],
        cancelled=tally["cancelled"],
        progress=round(finished / job.total, 4) if job.total else 1.0,
        cost_usd=float(tally.cost_usd),
        idempotency_key=job.idempotency_key,
        webhook_url=job.webhook_url,
        created_at=job.created_at,
        finished_at=job.finished_at,
        status_url=f"/v1/jobs/{job.id}",
        results_url=f"/v1/jobs/{job.id}/results",
        webhook_deliveries=[
            WebhookAttempt(
                attempt=d.attempt,
                succeeded=d.succeeded,
                status_code=d.status_code,
                error=d.error,
                latency_ms=d.latency_ms,
                at=d.created_at,
            )
            for d in await service.deliveries(session, job.id)
        ],
    )


@router.post(
    "/v1/agents/{name}/jobs",
    status_code=202,
    responses=responses(AgentNotFound, service.BatchTooLarge, InvalidInput, WebhookRefused),
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
    check_agent(principal, name)
    settings: Settings = request.app.state.settings
    inputs = body.items()
    if len(inputs) > settings.max_batch_items:
        raise service.BatchTooLarge(
            f"a job holds at most {settings.max_batch_items} inputs, got {len(inputs)}"
        )
    agent = await runtime.live.get(name, body.version)
    if body.webhook_url is not None:
        await check_url(body.webhook_url, settings.webhook_allowed_hosts)
    job, created = await service.submit_job(
        session,
        agent=name,
        version=agent.version,
        principal=principal,
        inputs=inputs,
        idempotency_key=body.idempotency_key,
        webhook_url=body.webhook_url,
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return await job_read(session, job)


@router.get("/v1/jobs/{job_id}", responses=responses(service.JobNotFound))
async def read_job(job_id: uuid.UUID, session: SessionDep, principal: InvokeDep) -> JobRead:
    """A job's status, counts, progress, cost so far and webhook deliveries."""
    return await job_read(session, await service.get_job(session, job_id, principal))


@router.get(
    "/v1/jobs/{job_id}/results",
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
    sessionmaker = request.app.state.sessionmaker

    async def lines() -> AsyncIterator[bytes]:
        async for item in service.stream_results(sessionmaker, job_id):
            line = ItemResult(
                index=item.position,
                status=item.status,
                output=item.output,
                error=item.error,
                execution_id=item.execution_id,
            )
            yield json.dumps(line.model_dump(mode="json", exclude_none=True)).encode() + b"\n"

    return StreamingResponse(lines(), media_type=JSON_LINES)


@router.delete("/v1/jobs/{job_id}", responses=responses(service.JobNotFound))
async def cancel_job(job_id: uuid.UUID, session: SessionDep, principal: InvokeDep) -> JobRead:
    """Cancel the items not started yet (running ones finish); the job ends as cancelled."""
    return await job_read(session, await service.cancel_job(session, job_id, principal))


@admin_router.get("")
async def list_jobs(
    session: SessionDep,
    agent: str | None = None,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "partially_failed"]
    | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """Every key's jobs, newest first, filtered by agent and status."""
    jobs = await service.list_jobs(session, agent=agent, status=status, limit=limit)
    return JobPage(items=[await job_read(session, job) for job in jobs])
