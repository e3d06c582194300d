"""Execution aggregates over time: per-agent activity and time series for charts.

Both read whole hours from the hourly rollup and the partial hours at a window's ends from
the log (see app.executions.rollup), so neither scans more than an hour of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.executions.queries import source_clause
from app.executions.record import PRODUCTION, Source
from app.executions.rollup import BUCKET_SQL, BUCKETS, Range, add_histograms, percentile, split
from app.models import Execution, ExecutionHourlyLatency


@dataclass(frozen=True)
class Activity:
    """One agent's calls, failures and cost in a window."""

    calls: int
    failed: int
    cost_usd: float


@dataclass(frozen=True)
class Point:
    """One time bucket of an agent's calls."""

    start: datetime
    calls: int
    failed: int
    p50_ms: float
    p95_ms: float
    cost_usd: float


def _hour_filters(hours: Range, sources: Sequence[Source]) -> list[ColumnElement[bool]]:
    h = ExecutionHourlyLatency
    filters = [source_clause(sources, h.source)]
    if hours[0] is not None:
        filters.append(h.hour >= hours[0])
    if hours[1] is not None:
        filters.append(h.hour < hours[1])
    return filters


def _log_filters(part: Range, sources: Sequence[Source]) -> list[ColumnElement[bool]]:
    filters = [source_clause(sources)]
    if part[0] is not None:
        filters.append(Execution.created_at >= part[0])
    if part[1] is not None:
        filters.append(Execution.created_at < part[1])
    return filters


async def agent_activity(
    session: AsyncSession, *, since: datetime, sources: Sequence[Source] = PRODUCTION
) -> dict[str, Activity]:
    """Calls, failed calls and cost per agent since `since` (one grouped query per part of
    the window), of production traffic unless `sources` says otherwise."""
    window = split(since, None)
    sums: dict[str, list[Any]] = {}
    queries = []
    h = ExecutionHourlyLatency
    for hours in window.hours:
        queries.append(
            select(h.agent, func.sum(h.calls), func.sum(h.failed), func.sum(h.cost_usd))
            .where(*_hour_filters(hours, sources))
            .group_by(h.agent)
        )
    for part in window.raw:
        queries.append(
            select(
                Execution.agent,
                func.count(),
                func.count().filter(Execution.status == "failed"),
                func.sum(Execution.cost_usd),
            )
            .where(*_log_filters(part, sources))
            .group_by(Execution.agent)
        )
    for query in queries:
        for agent, calls, failed, cost in (await session.execute(query)).all():
            figures = sums.setdefault(agent, [0, 0, Decimal(0)])
            figures[0] += calls or 0
            figures[1] += failed or 0
            figures[2] += cost or 0
    return {
        agent: Activity(calls=int(calls), failed=int(failed), cost_usd=float(cost))
        for agent, (calls, failed, cost) in sums.items()
    }


@dataclass
class _Bucket:
    calls: int = 0
    failed: int = 0
    cost: Decimal = Decimal(0)
    latency: list[int] | None = None

    def add(self, calls: int, failed: int, cost: Decimal, latency: Sequence[int]) -> None:
        self.calls += calls
        self.failed += failed
        self.cost += cost
        self.latency = add_histograms(self.latency or [0] * BUCKETS, latency)


async def call_series(
    session: AsyncSession,
    *,
    agent: str,
    since: datetime,
    bucket_s: int,
    sources: Sequence[Source] = PRODUCTION,
) -> list[Point]:
    """Calls, failures, p50/p95 latency (from the latency histogram) and cost of `agent`
    per `bucket_s` seconds, oldest first; empty buckets are left out.

    Buckets shorter than an hour cannot come from the rollup: they are read from the log,
    for the short windows they are drawn over (the last hour).
    """
    buckets: dict[int, _Bucket] = {}
    parts: tuple[Range, ...] = ((since, None),)
    if bucket_s % 3600 == 0:
        window = split(since, None)
        for hours in window.hours:
            await _series_from_rollup(session, agent, hours, bucket_s, sources, buckets)
        parts = window.raw
    for part in parts:
        await _series_from_log(session, agent, part, bucket_s, sources, buckets)
    return [
        Point(
            start=datetime.fromtimestamp(start, UTC),
            calls=b.calls,
            failed=b.failed,
            p50_ms=percentile(b.latency or [], 0.5),
            p95_ms=percentile(b.latency or [], 0.95),
            cost_usd=float(b.cost),
        )
        for start, b in sorted(buckets.items())
    ]


async def _series_from_rollup(
    session: AsyncSession,
    agent: str,
    hours: Range,
    bucket_s: int,
    sources: Sequence[Source],
    buckets: dict[int, _Bucket],
) -> None:
    h = ExecutionHourlyLatency
    rows = await session.execute(
        select(h.hour, h.calls, h.failed, h.cost_usd, h.latency).where(
            h.agent == agent, *_hour_filters(hours, sources)
        )
    )
    for hour, calls, failed, cost, latency in rows.all():
        start = int(hour.timestamp()) // bucket_s * bucket_s
        buckets.setdefault(start, _Bucket()).add(calls, failed, cost, latency)


async def _series_from_log(
    session: AsyncSession,
    agent: str,
    part: Range,
    bucket_s: int,
    sources: Sequence[Source],
    buckets: dict[int, _Bucket],
) -> None:
    epoch = func.extract("epoch", Execution.created_at)
    start = (func.floor(epoch / bucket_s) * bucket_s).label("start")
    bucket = literal_column(BUCKET_SQL.format(ms="execution.latency_ms"), Integer).label("bucket")
    rows = await session.execute(
        select(
            start,
            bucket,
            func.count(),
            func.count().filter(Execution.status == "failed"),
            func.coalesce(func.sum(Execution.cost_usd), 0),
        )
        .where(Execution.agent == agent, *_log_filters(part, sources))
        .group_by(start, bucket)
    )
    for first, index, calls, failed, cost in rows.all():
        latency = [0] * BUCKETS
        latency[index] = calls
        buckets.setdefault(int(first), _Bucket()).add(calls, failed, cost, latency)
