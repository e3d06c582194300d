"""Execution records: built during a call, written in batches off the request's path.

A call hands its record to the writer and answers at once; the writer inserts whatever has
gathered every few milliseconds in one transaction. On shutdown it drains everything, and
a failed write is retried rather than dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, LiteralString

import psycopg
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.writes import WriterConnection, arrays, conninfo_of, jsonb
from app.observability.tracing import span

log = structlog.get_logger(__name__)

_INSERT_EXECUTIONS: LiteralString = """
INSERT INTO execution (id, agent, version, status, input, output, error, cache, model, offline,
    latency_ms, prompt_tokens, completion_tokens, cost_usd, request_id, api_key_id, created_at)
SELECT * FROM unnest(%b::uuid[], %b::varchar[], %b::int[], %b::varchar[], %b::jsonb[],
    %b::jsonb[], %b::jsonb[], %b::varchar[], %b::varchar[], %b::bool[], %b::float8[],
    %b::int[], %b::int[], %b::numeric[], %b::varchar[], %b::uuid[], %b::timestamptz[])
"""
_INSERT_ATTEMPTS: LiteralString = """
INSERT INTO attempt (id, execution_id, number, kind, model, outcome, raw_text, issues, error,
    latency_ms, prompt_tokens, completion_tokens, cost_usd)
SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::int[], %b::varchar[], %b::varchar[],
    %b::varchar[], %b::text[], %b::jsonb[], %b::text[], %b::float8[], %b::int[], %b::int[],
    %b::numeric[])
"""
_ADD_SPEND: LiteralString = """
INSERT INTO spend (scope_key, day, spent_usd)
SELECT * FROM unnest(%b::varchar[], %b::timestamptz[], %b::numeric[])
ON CONFLICT (scope_key, day) DO UPDATE SET spent_usd = spend.spent_usd + excluded.spent_usd
"""


@dataclass
class AttemptRecord:
    """One model call within an execution."""

    number: int
    kind: str  # "ask", "reask" or "fallback"
    model: str
    outcome: str
    latency_ms: float
    raw_text: str | None = None
    issues: list[dict[str, str]] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class ExecutionRecord:
    """One call of an agent, as it will be stored."""

    id: uuid.UUID
    agent: str
    version: int | None
    input: dict[str, Any]
    created_at: datetime
    request_id: str | None
    status: str = "failed"
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cache: str = "miss"
    model: str | None = None
    offline: bool = False
    latency_ms: float = 0.0
    attempts: list[AttemptRecord] = field(default_factory=list)
    api_key_id: uuid.UUID | None = None  # the calling key; None for the bootstrap admin key

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.attempts)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    def columns(self) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        """The execution row and its attempt rows, in the column order of the inserts."""
        execution = (
            self.id,
            self.agent,
            self.version,
            self.status,
            jsonb(self.input),
            jsonb(self.output),
            jsonb(self.error),
            self.cache,
            self.model,
            self.offline,
            self.latency_ms,
            self.prompt_tokens,
            self.completion_tokens,
            _usd(self.cost_usd),
            self.request_id,
            self.api_key_id,
            self.created_at,
        )
        attempts = [
            (
                uuid.uuid4(),
                self.id,
                a.number,
                a.kind,
                a.model,
                a.outcome,
                a.raw_text,
                jsonb(a.issues),
                a.error,
                a.latency_ms,
                a.prompt_tokens,
                a.completion_tokens,
                _usd(a.cost_usd),
            )
            for a in self.attempts
        ]
        return execution, attempts


def _usd(value: float) -> Decimal:
    return Decimal(str(round(value, 8)))


class ExecutionWriter:
    """Batches execution records into Postgres in the background."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        flush_interval_s: float = 0.05,
        batch_size: int = 200,
    ) -> None:
        self._db = WriterConnection(conninfo_of(sessionmaker))
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._pending: list[ExecutionRecord] = []
        self._pending_ids: dict[uuid.UUID, asyncio.Event] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def submit(self, record: ExecutionRecord) -> None:
        """Queue a record; it is written within one flush interval."""
        self._pending.append(record)
        self._pending_ids[record.id] = asyncio.Event()
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        """How many records wait to be written (a gauge of /metrics)."""
        return len(self._pending)

    async def wait_written(self, execution_id: uuid.UUID) -> None:
        """Return once `execution_id` is in the database (at once if it is not pending)."""
        event = self._pending_ids.get(execution_id)
        if event is not None:
            self._wakeup.set()
            await event.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="execution-writer")

    async def stop(self) -> None:
        """Write everything still pending, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._db.close()

    async def _run(self) -> None:
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._batch_size]
                try:
                    await self._write(batch)
                except Exception as exc:  # keep the records and try again: none may be lost
                    failures += 1
                    log.error(
                        "writing executions failed", error=str(exc), pending=len(self._pending)
                    )
                    if self._stopping and failures > 20:
                        log.critical("giving up on executions", lost=len(self._pending))
                        return
                    await asyncio.sleep(min(0.05 * 2**failures, 5.0))
                    continue
                failures = 0
                del self._pending[: len(batch)]
                for record in batch:
                    event = self._pending_ids.pop(record.id, None)
                    if event is not None:
                        event.set()
            if self._stopping:
                return

    async def _write(self, batch: list[ExecutionRecord]) -> None:
        with span("write executions", {"specloom.batch_size": len(batch)}):
            async with self._db.batch() as connection:
                await store_records(connection, batch)


async def store_records(
    connection: psycopg.AsyncConnection[Any], batch: list[ExecutionRecord]
) -> None:
    """Insert executions, their attempts and their spend in the connection's transaction.

    The one way records reach the database: the writer's batches and job items (on their
    session's connection) alike. Each table takes one constant statement over binary arrays
    (`unnest`), prepared once per connection, whatever the batch size: a per-row executemany
    through SQLAlchemy spent most of the writer's CPU (issue 10).
    """
    executions: list[tuple[Any, ...]] = []
    attempts: list[tuple[Any, ...]] = []
    for record in batch:
        execution, rows = record.columns()
        executions.append(execution)
        attempts.extend(rows)
    await connection.execute(_INSERT_EXECUTIONS, arrays(executions, 17), prepare=True)
    if attempts:
        await connection.execute(_INSERT_ATTEMPTS, arrays(attempts, 13), prepare=True)
    spend = _spend_rows(batch)
    if spend:
        # Budgets read these sums; adding in the same transaction keeps them exact.
        await connection.execute(_ADD_SPEND, arrays(spend, 3), prepare=True)


def _spend_rows(batch: list[ExecutionRecord]) -> list[tuple[Any, ...]]:
    """Cost of a batch summed per scope ("global", "agent:<name>") and UTC day."""
    totals: dict[tuple[str, datetime], Decimal] = {}
    for record in batch:
        cost = Decimal(str(round(record.cost_usd, 8)))
        if not cost:
            continue
        day = record.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for key in ("global", f"agent:{record.agent}"):
            totals[(key, day)] = totals.get((key, day), Decimal(0)) + cost
    return [(key, day, spent) for (key, day), spent in totals.items()]
