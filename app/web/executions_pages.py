"""The execution log (filters, chart per agent) and one execution with its attempts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from app.core.database import SessionDep
from app.executions import queries
from app.executions.queries import SourceChoice
from app.executions.record import SOURCES, Source
from app.executions.series import call_series
from app.registry import service
from app.serving.context import Runtime
from app.web.charts import count, dollars, line_chart
from app.web.deps import UserDep, page, render
from app.web.filters import ms

router = APIRouter(prefix="/ui", include_in_schema=False)

# Production traffic first: test runs and the playground are shown only when asked for.
SOURCE_CHOICES: tuple[SourceChoice, ...] = ("production", "all", *SOURCES)

WINDOWS = {
    "1h": (timedelta(hours=1), 300),
    "24h": (timedelta(hours=24), 3600),
    "7d": (timedelta(days=7), 6 * 3600),
}


def _utc(value: str | None) -> datetime | None:
    """A `datetime-local` field (read as UTC), or None when empty or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: str | None) -> int | None:
    """The version filter: a positive number, or None (an empty field means any)."""
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**31 else None


async def _charts(
    session: SessionDep, agent: str, window: str, sources: tuple[Source, ...]
) -> list[Markup]:
    span, bucket_s = WINDOWS.get(window, WINDOWS["24h"])
    end = datetime.now(UTC)
    start = end - span
    points = await call_series(
        session, agent=agent, since=start, bucket_s=bucket_s, sources=sources
    )
    return [
        line_chart(
            points,
            [("calls", "#1f6feb", lambda p: p.calls), ("failed", "#d1242f", lambda p: p.failed)],
            title="calls",
            start=start,
            end=end,
            unit=count,
        ),
        line_chart(
            points,
            [("p50", "#1a7f37", lambda p: p.p50_ms), ("p95", "#bf8700", lambda p: p.p95_ms)],
            title="latency",
            start=start,
            end=end,
            unit=ms,
        ),
        line_chart(
            points,
            [("cost", "#8250df", lambda p: p.cost_usd)],
            title="cost",
            start=start,
            end=end,
            unit=dollars,
        ),
    ]


@dataclass(frozen=True)
class LogFilters:
    """The execution log's filters as the page's query string gives them."""

    version: str | None
    status: str | None
    since: str | None
    until: str | None
    cursor: str | None
    window: str
    source: SourceChoice


def log_filters(
    version: Annotated[str | None, Query(max_length=12)] = None,
    status: Literal["succeeded", "failed", ""] | None = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    window: Literal["1h", "24h", "7d"] = "24h",
    source: SourceChoice = "production",
) -> LogFilters:
    """Dependency: the filters both log pages take."""
    return LogFilters(version, status, since, until, cursor, window, source)


LogFiltersDep = Annotated[LogFilters, Depends(log_filters)]


async def _log(
    request: Request,
    session: SessionDep,
    filters: LogFilters,
    *,
    agent: str | None,
    spec_name: str | None = None,
) -> Response:
    version = _number(filters.version)
    sources = queries.sources_of([filters.source])
    rows, next_cursor = await queries.list_executions(
        session,
        agent=agent or None,
        version=version,
        status=filters.status or None,
        since=_utc(filters.since),
        until=_utc(filters.until),
        sources=sources,
        limit=50,
        cursor=filters.cursor or None,
    )
    spec = await service.get_spec(session, spec_name) if spec_name else None
    return render(
        request,
        "ui/executions.html",
        {
            "spec": spec,
            "agent_tabs": "executions" if spec else None,
            "rows": rows,
            "next_cursor": next_cursor,
            "filters": {
                "agent": agent or "",
                "version": version or "",
                "status": filters.status or "",
                "since": filters.since or "",
                "until": filters.until or "",
                "window": filters.window,
                "source": filters.source,
            },
            "source_choices": SOURCE_CHOICES,
            "agents": [s.name for s in await service.list_specs(session)],
            "charts": await _charts(session, agent, filters.window, sources) if agent else [],
        },
    )


@router.get("/executions", dependencies=[page("viewer")])
async def executions_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    filters: LogFiltersDep,
    agent: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The execution log, newest first, filtered by agent, version, status and time."""
    return await _log(request, session, filters, agent=agent)


@router.get("/agents/{name}/executions", dependencies=[page("viewer")])
async def agent_executions_page(
    request: Request, name: str, user: UserDep, session: SessionDep, filters: LogFiltersDep
) -> Response:
    """One agent's calls with charts of calls, p50/p95 latency and cost over time."""
    return await _log(request, session, filters, agent=name, spec_name=name)


@router.get("/executions/{execution_id}", dependencies=[page("viewer")])
async def execution_page(
    request: Request, execution_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """One execution: input, output or error, and every attempt (sensitive values redacted
    when they were stored)."""
    runtime: Runtime = request.app.state.runtime
    await runtime.writer.wait_written(execution_id)
    execution = await queries.get_execution(session, execution_id)
    return render(request, "ui/execution.html", {"e": execution})
