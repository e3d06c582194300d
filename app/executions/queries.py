"""Reading executions back: one by id, or a filtered page."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, SQLColumnExpression, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.errors import BadRequest, NotFound
from app.executions.record import PRODUCTION, SOURCES, Source
from app.models import Execution

SourceChoice = Source | Literal["all", "production"]


class ExecutionNotFound(NotFound):
    slug = "execution-not-found"
    title = "Execution not found"


async def get_execution(session: AsyncSession, execution_id: uuid.UUID) -> Execution:
    """One execution with its attempts, or 404."""
    execution = await session.scalar(
        select(Execution)
        .where(Execution.id == execution_id)
        .options(selectinload(Execution.attempts))
    )
    if execution is None:
        raise ExecutionNotFound(f"no execution {execution_id}")
    return execution


def sources_of(chosen: Sequence[SourceChoice] | None) -> tuple[Source, ...]:
    """The sources a filter asks for: production traffic (api, mcp, job) unless it names
    others; `all` is every source, `production` the default set."""
    if not chosen:
        return PRODUCTION
    picked: list[Source] = []
    for choice in chosen:
        if choice == "all":
            return SOURCES
        picked += PRODUCTION if choice == "production" else [choice]
    return tuple(dict.fromkeys(picked))


def source_clause(
    sources: Sequence[Source], column: SQLColumnExpression[str] | None = None
) -> ColumnElement[bool]:
    """The WHERE condition for `sources` on `column` (the log's by default; none at all when
    every source is wanted)."""
    if set(sources) >= set(SOURCES):
        return true()
    return (Execution.source if column is None else column).in_(sources)


async def list_executions(
    session: AsyncSession,
    *,
    agent: str | None = None,
    version: int | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Sequence[Source] = PRODUCTION,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Execution], str | None]:
    """Newest first, filtered (production traffic unless `sources` says otherwise); keyset
    pagination with an opaque cursor."""
    query = (
        select(Execution)
        .where(source_clause(sources))
        .order_by(Execution.created_at.desc(), Execution.id.desc())
    )
    if agent is not None:
        query = query.where(Execution.agent == agent)
    if version is not None:
        query = query.where(Execution.version == version)
    if status is not None:
        query = query.where(Execution.status == status)
    if since is not None:
        query = query.where(Execution.created_at >= since)
    if until is not None:
        query = query.where(Execution.created_at < until)
    if cursor is not None:
        created_at, last_id = _decode_cursor(cursor)
        query = query.where(tuple_(Execution.created_at, Execution.id) < (created_at, last_id))
    rows = (await session.scalars(query.limit(limit + 1))).all()
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _encode_cursor(execution: Execution) -> str:
    raw = f"{execution.created_at.isoformat()}|{execution.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(ident)
    except ValueError:
        raise BadRequest("the cursor is not one this API gave out") from None
