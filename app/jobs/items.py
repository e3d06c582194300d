"""Running one job item in a worker: claim it, call the agent, record the result once.

Exactly once: a claim bumps the item's `attempt`; the result is accepted only by a
conditional UPDATE naming that attempt, in the same transaction as the execution record
(whose id is derived from the item and the attempt). A worker killed mid-item leaves the
item `running`; procrastinate gives its task to another worker after the lease, whose claim
makes the dead worker's attempt stale. A finished item is never claimed again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.database import driver_connection
from app.core.errors import ProblemError
from app.executions.record import ExecutionRecord, usd
from app.executions.redaction import redact
from app.executions.writer import store_records
from app.jobs.service import items_done
from app.models import Job, JobItem
from app.observability.calls import record_call
from app.serving.call import call, refused
from app.serving.context import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Claim:
    item_id: uuid.UUID
    job_id: uuid.UUID
    position: int
    attempt: int
    input: Any
    agent: str
    version: int
    api_key_id: uuid.UUID | None


def execution_id(item_id: uuid.UUID, attempt: int) -> uuid.UUID:
    """The execution id of one attempt at an item: the same on every try of that attempt."""
    return uuid.uuid5(item_id, str(attempt))


async def claim(sessionmaker: async_sessionmaker[AsyncSession], item_id: uuid.UUID) -> Claim | None:
    """Take the item for this worker (None: finished or cancelled already)."""
    async with sessionmaker() as session, session.begin():
        found = await session.execute(
            update(JobItem)
            .where(JobItem.id == item_id, JobItem.status.in_(("queued", "running")))
            .values(
                status="running",
                attempt=JobItem.attempt + 1,
                started_at=func.clock_timestamp(),
            )
            .returning(JobItem.job_id, JobItem.position, JobItem.attempt, JobItem.input)
        )
        row = found.one_or_none()
        if row is None:
            return None
        job = (
            await session.execute(
                select(Job.agent, Job.version, Job.api_key_id).where(Job.id == row.job_id)
            )
        ).one()
    return Claim(item_id, row.job_id, row.position, row.attempt, row.input, *job)


async def run_item(
    runtime: Runtime, sessionmaker: async_sessionmaker[AsyncSession], item_id: uuid.UUID
) -> None:
    """Run one item through the same pipeline as a synchronous call, and record it once."""
    taken = await claim(sessionmaker, item_id)
    if taken is None:
        return
    request_id = f"job:{taken.job_id}:{taken.position}"
    with structlog.contextvars.bound_contextvars(
        job_id=str(taken.job_id), item=taken.position, agent=taken.agent
    ):
        record, output, problem, cached, kept_input = await _call(runtime, taken, request_id)
        async with sessionmaker() as session, session.begin():
            accepted = await _store(session, taken, record, output, problem, kept_input)
        if not accepted:
            log.info("item result superseded by a later claim", attempt=taken.attempt)
            return
    record_call(record, status=problem.status if problem else 200, cached=cached)


async def _call(
    runtime: Runtime, taken: Claim, request_id: str
) -> tuple[ExecutionRecord, dict[str, Any] | None, ProblemError | None, bool, Any]:
    """The call's record, output, problem, whether it was cached, and the input to keep.

    A finished item keeps its input with `x-sensitive` fields redacted, as its execution
    record does: the value was needed for the call only (the output is the caller's). The
    record's id comes from the item and its attempt, so a retried claim writes it once.
    """
    record_id = execution_id(taken.item_id, taken.attempt)
    try:
        agent = await runtime.live.get(taken.agent, taken.version)
    except ProblemError as problem:  # the pinned version went away: a failed, recorded item
        record = refused(
            taken.agent,
            taken.version,
            taken.input,
            problem,
            request_id=request_id,
            source="job",
            api_key_id=taken.api_key_id,
            execution_id=record_id,
        )
        return record, None, problem, False, taken.input
    result = await call(
        runtime.context,
        agent,
        taken.input,
        source="job",
        api_key_id=taken.api_key_id,
        request_id=request_id,
        execution_id=record_id,
    )
    # Skipped when the agent has nothing sensitive, as the record's redaction is.
    kept = (
        redact(taken.input, agent.compiled.input_schema) if agent.sensitive_input else taken.input
    )
    return result.record, result.output, result.problem, result.cached, kept


async def _store(
    session: AsyncSession,
    taken: Claim,
    record: ExecutionRecord,
    output: dict[str, Any] | None,
    problem: ProblemError | None,
    kept_input: Any,
) -> bool:
    """Accept the result if this is still the item's latest claim; False when superseded."""
    error = None
    if problem is not None:
        error = {**problem.problem(record.request_id), "execution_id": str(record.id)}
    accepted = await session.execute(
        update(JobItem)
        .where(
            JobItem.id == taken.item_id,
            JobItem.status == "running",
            JobItem.attempt == taken.attempt,
        )
        .values(
            status="failed" if problem is not None else "succeeded",
            input=kept_input,
            output=output,
            error=error,
            execution_id=record.id,
            cost_usd=usd(record.cost_usd),
            finished_at=func.clock_timestamp(),
        )
        .returning(JobItem.id)
    )
    if accepted.scalar_one_or_none() is None:
        return False
    await store_records(await driver_connection(session), [record])
    await items_done(session, taken.job_id, 1)
    return True
