"""Jobs: submit, read, cancel, list and finish. Services take the session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import NotFound, ProblemError
from app.jobs.queue import DELIVER_WEBHOOK, RUN_ITEM, defer, withdraw_items
from app.models import Job, JobItem, WebhookDelivery
from app.security.store import Principal


class JobNotFound(NotFound):
    slug = "job-not-found"
    title = "Job not found"


class BatchTooLarge(ProblemError):
    status = 413
    slug = "batch-too-large"
    title = "Too many items in the batch"


@dataclass(frozen=True)
class Counts:
    """How many items of a job are in each status, and what they cost so far."""

    by_status: dict[str, int]
    cost_usd: Decimal

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)


async def submit_job(
    session: AsyncSession,
    *,
    agent: str,
    version: int,
    principal: Principal,
    inputs: Sequence[Any],
    idempotency_key: str | None,
    webhook_url: str | None,
) -> tuple[Job, bool]:
    """The new job (items stored, tasks queued in this transaction) and True; or, for a key
    already used by this API key on this agent, that job and False."""
    owner = principal.actor
    if idempotency_key is not None:
        existing = await _by_key(session, owner, agent, idempotency_key)
        if existing is not None:
            return existing, False
    job_id = uuid.uuid4()
    inserted = await session.execute(
        pg_insert(Job)
        .values(
            id=job_id,
            agent=agent,
            version=version,
            owner=owner,
            api_key_id=principal.key_id,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            status="queued",
            total=len(inputs),
            done=0,
            cancel_requested=False,
        )
        .on_conflict_do_nothing(constraint="uq_job_idempotency")
        .returning(Job.id)
    )
    if inserted.scalar_one_or_none() is None:  # a concurrent submit with the same key won
        assert idempotency_key is not None
        winner = await _by_key(session, owner, agent, idempotency_key)
        assert winner is not None
        return winner, False
    rows = [
        {"id": uuid.uuid4(), "job_id": job_id, "position": index, "input": value}
        for index, value in enumerate(inputs)
    ]
    await session.execute(pg_insert(JobItem), rows)
    await defer(session, RUN_ITEM, [{"item_id": str(row["id"])} for row in rows])
    job = await session.get_one(Job, job_id)
    return job, True


async def _by_key(session: AsyncSession, owner: str, agent: str, key: str) -> Job | None:
    found = await session.execute(
        select(Job).where(Job.owner == owner, Job.agent == agent, Job.idempotency_key == key)
    )
    return found.scalar_one_or_none()


async def get_job(session: AsyncSession, job_id: uuid.UUID, principal: Principal) -> Job:
    """The job, if this key may see it (its own; admin keys see all), else 404."""
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or not (principal.is_admin or job.api_key_id == principal.key_id):
        # 404, not 403: another key's job ids must not be confirmed to exist.
        raise JobNotFound(f"no job {job_id}")
    return job


async def counts(session: AsyncSession, job_id: uuid.UUID) -> Counts:
    """Items by status and the cost so far."""
    return (await counts_of(session, [job_id]))[job_id]


async def counts_of(session: AsyncSession, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    """`counts` of several jobs in one query (a listing must not ask once per job)."""
    rows = await session.execute(
        select(
            JobItem.job_id,
            JobItem.status,
            func.count(),
            func.coalesce(func.sum(JobItem.cost_usd), 0),
        )
        .where(JobItem.job_id.in_(job_ids))
        .group_by(JobItem.job_id, JobItem.status)
    )
    by_status: dict[uuid.UUID, dict[str, int]] = {job_id: {} for job_id in job_ids}
    cost = dict.fromkeys(job_ids, Decimal(0))
    for job_id, status, count, spent in rows.all():
        by_status[job_id][status] = count
        cost[job_id] += Decimal(spent)
    return {job_id: Counts(by_status[job_id], cost[job_id]) for job_id in job_ids}


def live_status(job: Job, tally: Counts) -> str:
    """The status to show: the final one once finished, else queued or running."""
    if job.finished_at is not None:
        return job.status
    return "queued" if tally["queued"] == job.total else "running"


def final_status(cancel_requested: bool, tally: Counts) -> str:
    """How a job ended, from its items."""
    if cancel_requested and tally["cancelled"]:
        return "cancelled"
    if not tally["failed"]:
        return "succeeded"
    return "failed" if not tally["succeeded"] else "partially_failed"


async def deliveries_of(
    session: AsyncSession, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookDelivery]]:
    """The webhook deliveries of several jobs, in attempt order, in one query."""
    found = await session.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.job_id.in_(job_ids))
        .order_by(WebhookDelivery.attempt, WebhookDelivery.created_at)
    )
    by_job: dict[uuid.UUID, list[WebhookDelivery]] = {job_id: [] for job_id in job_ids}
    for delivery in found.scalars():
        by_job[delivery.job_id].append(delivery)
    return by_job


async def items_done(session: AsyncSession, job_id: uuid.UUID, finished: int) -> None:
    """Count `finished` more items as done; whoever finishes the last one ends the job.

    The UPDATE locks the job row, so exactly one transaction sees `done` reach `total`.
    """
    if not finished:
        return
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(done=Job.done + finished)
        .returning(Job.done, Job.total)
    )
    done, total = result.one()
    if done >= total:
        await _finish(session, job_id)


async def _finish(session: AsyncSession, job_id: uuid.UUID) -> None:
    job = await session.get_one(Job, job_id, populate_existing=True)
    tally = await counts(session, job_id)
    job.status = final_status(job.cancel_requested, tally)
    job.finished_at = func.clock_timestamp()
    await session.flush()
    if job.webhook_url:
        await defer(session, DELIVER_WEBHOOK, [{"job_id": str(job_id)}])


async def cancel_job(session: AsyncSession, job_id: uuid.UUID, principal: Principal) -> Job:
    """Cancel every item not started yet; running ones finish. Idempotent."""
    job = await get_job(session, job_id, principal)
    if job.finished_at is not None:
        return job
    result = await session.execute(
        update(JobItem)
        .where(JobItem.job_id == job_id, JobItem.status == "queued")
        .values(status="cancelled", finished_at=func.clock_timestamp())
        .returning(JobItem.id)
    )
    cancelled = [str(item_id) for item_id in result.scalars()]
    await withdraw_items(session, cancelled)
    await session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    await items_done(session, job_id, len(cancelled))
    return await get_job(session, job_id, principal)


async def list_jobs(
    session: AsyncSession, *, agent: str | None, status: str | None, limit: int
) -> list[Job]:
    """Jobs, newest first (admin)."""
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if agent is not None:
        query = query.where(Job.agent == agent)
    if status in ("queued", "running"):
        query = query.where(Job.finished_at.is_(None))
    elif status is not None:
        query = query.where(Job.status == status)
    return list((await session.execute(query)).scalars())


async def stream_results(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, page: int = 500
) -> AsyncIterator[JobItem]:
    """The job's items in input order, read page by page (one short session per page)."""
    after = -1
    while True:
        async with sessionmaker() as session:
            found = await session.execute(
                select(JobItem)
                .where(JobItem.job_id == job_id, JobItem.position > after)
                .order_by(JobItem.position)
                .limit(page)
            )
            items = list(found.scalars())
        for item in items:
            yield item
        if len(items) < page:
            return
        after = items[-1].position
