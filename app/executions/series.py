"""Execution aggregates over time: per-agent activity and time series for charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.executions.queries import source_clause
from app.executions.record import PRODUCTION, Source
from app.models import Execution


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


async def agent_activity(
    session: AsyncSession, *, since: datetime, sources: Sequence[Source] = PRODUCTION
) -> dict[str, Activity]:
    """Calls, failed calls and cost per agent since `since` (one grouped query), of
    production traffic unless `sources` says otherwise."""
    rows = await session.execute(
        select(
            Execution.agent,
            func.count(),
            func.count().filter(Execution.status == "failed"),
            func.coalesce(func.sum(Execution.cost_usd), 0),
        )
        .where(Execution.created_at >= since, source_clause(sources))
        .group_by(Execution.agent)
    )
    return {
        agent: Activity(calls=calls, failed=failed, cost_usd=float(cost or Decimal(0)))
        for agent, calls, failed, cost in rows.all()
    }


async def call_series(
    session: AsyncSession,
    *,
    agent: str,
    since: datetime,
    bucket_s: int,
    sources: Sequence[Source] = PRODUCTION,
) -> list[Point]:
    """Calls, failures, p50/p95 latency and cost of `agent` per `bucket_s` seconds, oldest
    first; empty buckets are left out."""
    epoch = func.extract("epoch", Execution.created_at)
    bucket = func.to_timestamp(func.floor(epoch / bucket_s) * bucket_s).label("bucket")
    rows = await session.execute(
        select(
            bucket,
            func.count(),
            func.count().filter(Execution.status == "failed"),
            func.percentile_cont(0.5).within_group(Execution.latency_ms),
            func.percentile_cont(0.95).within_group(Execution.latency_ms),
            func.coalesce(func.sum(Execution.cost_usd), 0),
        )
        .where(Execution.agent == agent, Execution.created_at >= since, source_clause(sources))
        .group_by(bucket)
        .order_by(bucket)
    )
    return [
        Point(
            start=start,
            calls=calls,
            failed=failed,
            p50_ms=float(p50 or 0),
            p95_ms=float(p95 or 0),
            cost_usd=float(cost or Decimal(0)),
        )
        for start, calls, failed, p50, p95, cost in rows.all()
    ]
