"""Usage aggregates: tokens and cost per day, agent, version and model, from the attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.executions.queries import source_clause
from app.executions.record import PRODUCTION, Source
from app.models import Attempt, Execution


class UsageRow(BaseModel):
    day: date
    agent: str
    version: int | None
    model: str
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class UsageTotals(BaseModel):
    calls: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class UsageReport(BaseModel):
    items: list[UsageRow]
    totals: UsageTotals


async def usage_report(
    session: AsyncSession,
    *,
    agent: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Sequence[Source] = PRODUCTION,
) -> UsageReport:
    """Attempts grouped by (UTC day, agent, version, model), and the calls' totals, of
    production traffic unless `sources` says otherwise."""
    day = cast(func.timezone("UTC", Execution.created_at), Date)
    filters = [source_clause(sources)]
    if agent is not None:
        filters.append(Execution.agent == agent)
    if since is not None:
        filters.append(Execution.created_at >= since)
    if until is not None:
        filters.append(Execution.created_at < until)
    grouped = await session.execute(
        select(
            day,
            Execution.agent,
            Execution.version,
            Attempt.model,
            func.count(),
            func.sum(Attempt.prompt_tokens),
            func.sum(Attempt.completion_tokens),
            func.sum(Attempt.cost_usd),
        )
        .join(Attempt, Attempt.execution_id == Execution.id)
        .where(*filters, Attempt.kind != "skip")
        .group_by(day, Execution.agent, Execution.version, Attempt.model)
        .order_by(day, Execution.agent, Execution.version, Attempt.model)
    )
    items = [
        UsageRow(
            day=d,
            agent=a,
            version=v,
            model=m,
            attempts=n,
            prompt_tokens=int(p or 0),
            completion_tokens=int(c or 0),
            cost_usd=float(cost or Decimal(0)),
        )
        for d, a, v, m, n, p, c, cost in grouped.all()
    ]
    totals = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Execution.status == "failed"),
                func.coalesce(func.sum(Execution.prompt_tokens), 0),
                func.coalesce(func.sum(Execution.completion_tokens), 0),
                func.coalesce(func.sum(Execution.cost_usd), 0),
            ).where(*filters)
        )
    ).one()
    return UsageReport(
        items=items,
        totals=UsageTotals(
            calls=totals[0],
            failed=totals[1],
            prompt_tokens=int(totals[2]),
            completion_tokens=int(totals[3]),
            cost_usd=float(totals[4]),
        ),
    )
