"""Records stored the way the writer stores them, for tests of what reads the log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.writes import conninfo_of
from app.executions.record import AttemptKind, AttemptRecord, ExecutionRecord, Source
from app.executions.writer import store_records


def record(
    at: datetime,
    *,
    agent: str = "triage",
    version: int | None = 1,
    source: Source = "api",
    failed: bool = False,
    latency_ms: float = 100.0,
    attempts: Sequence[tuple[AttemptKind, str, float]] = (("ask", "small", 0.001),),
) -> ExecutionRecord:
    """A finished record: attempts as (kind, model, cost), 10 prompt and 5 completion tokens
    each (none for a skip); the call's model is its last attempt's."""
    return ExecutionRecord(
        id=uuid.uuid4(),
        agent=agent,
        version=version,
        input={"text": "hello"},
        created_at=at,
        request_id=None,
        source=source,
        status="failed" if failed else "succeeded",
        output=None if failed else {"team": "billing"},
        error={"type": "schema-invalid"} if failed else None,
        model=attempts[-1][1] if attempts and not failed else None,
        latency_ms=latency_ms,
        attempts=[
            AttemptRecord(
                number=i + 1,
                kind=kind,
                model=model,
                outcome="cancelled" if kind == "skip" else "valid",
                latency_ms=latency_ms,
                raw_text='{"team": "billing"}',
                prompt_tokens=0 if kind == "skip" else 10,
                completion_tokens=0 if kind == "skip" else 5,
                cost_usd=0.0 if kind == "skip" else cost,
            )
            for i, (kind, model, cost) in enumerate(attempts)
        ],
    )


@asynccontextmanager
async def log_connection(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection like the writer's."""
    connection = await psycopg.AsyncConnection.connect(conninfo_of(sessionmaker), autocommit=True)
    try:
        yield connection
    finally:
        await connection.close()


async def store(
    sessionmaker: async_sessionmaker[AsyncSession], *batches: Sequence[ExecutionRecord]
) -> None:
    """Store each batch as the writer does (one statement per batch)."""
    async with log_connection(sessionmaker) as connection:
        for batch in batches:
            await store_records(connection, list(batch))
