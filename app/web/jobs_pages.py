"""Jobs: the list (agent and status filters, progress, counts, cost), one job with its
webhook deliveries, and its results as a JSON Lines download."""

from __future__ import annotations

import uuid
from typing import get_args

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.core.clock import SystemClock
from app.core.database import SessionDep
from app.jobs import service
from app.jobs.queue import last_worker_heartbeat
from app.jobs.schemas import JobStatus
from app.jobs.views import JSON_LINES, job_read, job_reads, result_lines
from app.registry import service as registry
from app.web.deps import UserDep, page, render

router = APIRouter(prefix="/ui", include_in_schema=False)

STATUSES: tuple[str, ...] = get_args(JobStatus)
PAGE = 100


@router.get("/jobs", dependencies=[page("viewer")])
async def jobs_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    agent: str | None = None,
    status: str | None = None,
) -> Response:
    """Every job, newest first, filtered by agent and status."""
    # An empty or unknown filter means "any", as the form's first option says.
    agent_filter = agent or None
    status_filter = status if status in STATUSES else None
    jobs = await service.list_jobs(session, agent=agent_filter, status=status_filter, limit=PAGE)
    lease_s = request.app.state.settings.jobs.lease_s
    seen = await last_worker_heartbeat(session)
    return render(
        request,
        "ui/jobs.html",
        {
            "jobs": await job_reads(session, jobs),
            "agents": [spec.name for spec in await registry.list_specs(session)],
            "statuses": STATUSES,
            "filters": {"agent": agent_filter or "", "status": status_filter or ""},
            # Queued items wait for a worker; say so when none has been seen for a lease.
            "worker_seen": seen,
            "no_worker": seen is None or (SystemClock().now() - seen).total_seconds() > lease_s,
        },
    )


@router.get("/jobs/{job_id}", dependencies=[page("viewer")])
async def job_page(
    request: Request, job_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """One job: status, progress, counts, cost and webhook deliveries."""
    job = await job_read(session, await service.get_job(session, job_id, user))
    return render(request, "ui/job.html", {"job": job})


@router.get("/jobs/{job_id}/results", dependencies=[page("viewer")])
async def job_results(
    request: Request, job_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """The job's results as a JSON Lines download (one line per input, in input order)."""
    await service.get_job(session, job_id, user)
    return StreamingResponse(
        result_lines(request.app.state.sessionmaker, job_id),
        media_type=JSON_LINES,
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}.jsonl"'},
    )
