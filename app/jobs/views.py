"""Jobs as callers see them, and submission shared by the API route and the MCP tool."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.settings import Settings
from app.jobs import service
from app.jobs.schemas import ItemResult, JobCreate, JobRead, WebhookAttempt
from app.jobs.webhooks import check_url
from app.models import Job, WebhookDelivery
from app.security.auth import check_agent
from app.security.store import Principal
from app.serving.context import Runtime

JSON_LINES = "application/jsonl"


async def create_job(
    session: AsyncSession,
    *,
    runtime: Runtime,
    settings: Settings,
    principal: Principal,
    agent_name: str,
    body: JobCreate,
) -> tuple[Job, bool]:
    """Check and submit a job (or find the one with the same idempotency key)."""
    check_agent(principal, agent_name)
    inputs = body.items()
    if len(inputs) > settings.jobs.max_batch_items:
        raise service.BatchTooLarge(
            f"a job holds at most {settings.jobs.max_batch_items} inputs, got {len(inputs)}"
        )
    agent = await runtime.live.get(agent_name, body.version)
    if body.webhook_url is not None:
        await check_url(body.webhook_url, settings.webhooks.allowed_hosts)
    return await service.submit_job(
        session,
        agent=agent_name,
        version=agent.version,
        principal=principal,
        inputs=inputs,
        idempotency_key=body.idempotency_key,
        webhook_url=body.webhook_url,
    )


async def job_read(session: AsyncSession, job: Job) -> JobRead:
    """The job as the API shows it, with counts and deliveries read now."""
    return (await job_reads(session, [job]))[0]


async def job_reads(session: AsyncSession, jobs: Sequence[Job]) -> list[JobRead]:
    """`job_read` of several jobs: two queries in all, not two per job."""
    ids = [job.id for job in jobs]
    tallies = await service.counts_of(session, ids)
    deliveries = await service.deliveries_of(session, ids)
    return [_read(job, tallies[job.id], deliveries[job.id]) for job in jobs]


def _read(job: Job, tally: service.Counts, deliveries: list[WebhookDelivery]) -> JobRead:
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
            for d in deliveries
        ],
    )


async def result_lines(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """The job's results as JSON Lines: one `ItemResult` per input, in input order."""
    async for item in service.stream_results(sessionmaker, job_id):
        line = ItemResult(
            index=item.position,
            status=item.status,
            output=item.output,
            error=item.error,
            execution_id=item.execution_id,
        )
        yield json.dumps(line.model_dump(mode="json", exclude_none=True)).encode() + b"\n"
