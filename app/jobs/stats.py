"""The numbers `/metrics` shows about jobs, read from Postgres when scraped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import State

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


class JobsCollector(Collector):
    """Job queue depth and items by status, from the snapshot taken at scrape."""

    def __init__(self, state: State) -> None:
        self._state = state

    def collect(self) -> Iterable[Metric]:
        stats: JobStats | None = getattr(self._state, "job_stats", None)
        if stats is None:
            return
        depth = GaugeMetricFamily(
            "specloom_job_queue_depth", "Tasks waiting in the job queue.", labels=["task"]
        )
        for task, count in sorted(stats.queue_depth.items()):
            depth.add_metric([task], count)
        yield depth
        items = GaugeMetricFamily(
            "specloom_job_items",
            "Items of jobs created in the last 24 hours, by agent and status.",
            labels=["agent", "status"],
        )
        for (agent, status), count in sorted(stats.items.items()):
            items.add_metric([agent, status], count)
        yield items


async def refresh_stats(state: State) -> None:
    """Take the jobs' numbers for this scrape of `/metrics`."""
    state.job_stats = await read_stats(state.sessionmaker)
