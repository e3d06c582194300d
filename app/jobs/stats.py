"""The numbers `/metrics` shows about jobs, read from Postgres when scraped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Job, JobItem

RECENT = timedelta(hours=24)

_DEPTH = text(
    "SELECT task_name, count(*) FROM procrastinate_jobs"
    " WHERE status = 'todo' AND task_name LIKE 'specloom.%' GROUP BY task_name"
)


@dataclass(frozen=True)
class JobStats:
    """Tasks waiting in the queue by task, and items of recent jobs by agent and status."""

    queue_depth: dict[str, int] = field(default_factory=dict)
    items: dict[tuple[str, str], int] = field(default_factory=dict)


async def read_stats(sessionmaker: async_sessionmaker[AsyncSession]) -> JobStats:
    """Counts for the gauges (items of jobs created in the last 24 hours)."""
    async with sessionmaker() as session:
        depth = {name: count for name, count in (await session.execute(_DEPTH)).tuples()}
        rows = await session.execute(
            select(Job.agent, JobItem.status, func.count())
            .join(Job, Job.id == JobItem.job_id)
            .where(Job.created_at >= func.now() - RECENT)
            .group_by(Job.agent, JobItem.status)
        )
        items = {(agent, status): count for agent, status, count in rows.tuples()}
    return JobStats(depth, items)
