"""Usage aggregates: tokens and cost per day, agent, version and model.

Whole days come from the daily rollup, whole hours around them from the hourly one, and the
partial hours at the ends of a window that does not start or stop on the hour are summed
from the log (an hour of rows at most), so the figures are exact and no request scans the
log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.executions.queries import source_clause
from app.executions.record import PRODUCTION, Source
from app.executions.rollup import Range, split
from app.models import Attempt, Execution, ExecutionDaily, ExecutionHourly


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


ItemKey = tuple[date, str, int | None, str]
# attempts, prompt tokens, completion tokens, cost
Figures = list[Any]


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
    window = split(since, until, days=True)
    items: dict[ItemKey, Figures] = {}
    totals: Figures = [0, 0, 0, 0, Decimal(0)]
    parts: list[tuple[type[ExecutionHourly | ExecutionDaily], Range]] = [
        (ExecutionHourly, hours) for hours in window.hours
    ]
    if window.days is not None:
        parts.append((ExecutionDaily, window.days))
    for rollup, part in parts:
        await _from_rollup(session, rollup, part, agent, sources, items, totals)
    for part in window.raw:
        await _from_log(session, part, agent, sources, items, totals)
    return UsageReport(
        items=[
            UsageRow(
                day=day,
                agent=name,
                version=version,
                model=model,
                attempts=n,
                prompt_tokens=int(p),
                completion_tokens=int(c),
                cost_usd=float(cost),
            )
            for (day, name, version, model), (n, p, c, cost) in sorted(items.items(), key=_order)
        ],
        totals=UsageTotals(
            calls=totals[0],
            failed=totals[1],
            prompt_tokens=int(totals[2]),
            completion_tokens=int(totals[3]),
            cost_usd=float(totals[4]),
        ),
    )


def _order(item: tuple[ItemKey, Figures]) -> tuple[date, str, bool, int, str]:
    """Day, agent, version (none last, as Postgres sorts NULL), model."""
    day, agent, version, model = item[0]
    return day, agent, version is None, version or 0, model


def _add(into: Figures, row: Sequence[Any]) -> None:
    for i, value in enumerate(row):
        into[i] += value or 0


async def _from_rollup(
    session: AsyncSession,
    h: type[ExecutionHourly | ExecutionDaily],
    part: Range,
    agent: str | None,
    sources: Sequence[Source],
    items: dict[ItemKey, Figures],
    totals: Figures,
) -> None:
    start = h.hour if h is ExecutionHourly else ExecutionDaily.day
    filters: list[ColumnElement[bool]] = [source_clause(sources, h.source)]
    if agent is not None:
        filters.append(h.agent == agent)
    if part[0] is not None:
        filters.append(start >= part[0])
    if part[1] is not None:
        filters.append(start < part[1])
    day = cast(func.timezone("UTC", start), Date)
    grouped = await session.execute(
        select(
            day,
            h.agent,
            h.version,
            h.model,
            func.sum(h.attempts),
            func.sum(h.attempt_prompt_tokens),
            func.sum(h.attempt_completion_tokens),
            func.sum(h.attempt_cost_usd),
            func.sum(h.calls),
            func.sum(h.failed),
            func.sum(h.prompt_tokens),
            func.sum(h.completion_tokens),
            func.sum(h.cost_usd),
        )
        .where(*filters)
        .group_by(day, h.agent, h.version, h.model)
    )
    for d, name, version, model, *figures in grouped.all():
        if figures[0]:
            key = (d, name, version or None, model)
            _add(items.setdefault(key, [0, 0, 0, Decimal(0)]), figures[:4])
        _add(totals, figures[4:])


async def _from_log(
    session: AsyncSession,
    part: Range,
    agent: str | None,
    sources: Sequence[Source],
    items: dict[ItemKey, Figures],
    totals: Figures,
) -> None:
    filters = [source_clause(sources)]
    if agent is not None:
        filters.append(Execution.agent == agent)
    if part[0] is not None:
        filters.append(Execution.created_at >= part[0])
    if part[1] is not None:
        filters.append(Execution.created_at < part[1])
    day = cast(func.timezone("UTC", Execution.created_at), Date)
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
        .where(*filters, Attempt.created_at == Execution.created_at, Attempt.kind != "skip")
        .group_by(day, Execution.agent, Execution.version, Attempt.model)
    )
    for d, name, version, model, *figures in grouped.all():
        _add(items.setdefault((d, name, version, model), [0, 0, 0, Decimal(0)]), figures)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Execution.status == "failed"),
                func.sum(Execution.prompt_tokens),
                func.sum(Execution.completion_tokens),
                func.sum(Execution.cost_usd),
            ).where(*filters)
        )
    ).one()
    _add(totals, row)
