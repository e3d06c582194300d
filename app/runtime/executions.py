"""Execution records: built during a call, written in batches off the request's path.

A call hands its record to the writer and answers at once; the writer inserts whatever has
gathered every few milliseconds in one transaction. On shutdown it drains everything, and
a failed write is retried rather than dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Attempt, Execution, Spend
from app.observability.tracing import span

log = structlog.get_logger(__name__)

_INSERT_EXECUTIONS = insert(cast(Table, Execution.__table__))
_INSERT_ATTEMPTS = insert(cast(Table, Attempt.__table__))


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

    def rows(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The execution row and its attempt rows, ready for a bulk INSERT."""
        execution = {
            "id": self.id,
            "agent": self.agent,
            "version": self.version,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cache": self.cache,
            "model": self.model,
            "offline": self.offline,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": Decimal(str(round(self.cost_usd, 8))),
            "request_id": self.request_id,
            "api_key_id": self.api_key_id,
            "created_at": self.created_at,
        }
        attempts = []
        for attempt in self.attempts:
            row = asdict(attempt)
            row["cost_usd"] = Decimal(str(round(attempt.cost_usd, 8)))
            row["execution_id"] = self.id
            row["id"] = uuid.uuid4()
            attempts.append(row)
        return execution, attempts


class ExecutionWriter:
    """Batches execution records into Postgres in the background."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        flush_interval_s: float = 0.05,
        batch_size: int = 200,
    ) -> None:
        self._sessionmaker = sessionmaker
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
            async with self._sessionmaker() as session, session.begin():
                await store_records(session, batch)


async def store_records(session: AsyncSession, batch: list[ExecutionRecord]) -> None:
    """Insert executions, their attempts and their spend in the caller's transaction.

    The one way records reach the database: the writer's batches and job items alike.
    """
    executions: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for record in batch:
        execution, rows = record.rows()
        executions.append(execution)
        attempts.extend(rows)
    spend = _spend_rows(batch)
    # Tables, not mapped classes: a Core executemany skips the ORM's bulk-insert
    # bookkeeping, most of the writer's CPU (issue 10). The rows carry every column.
    await session.execute(_INSERT_EXECUTIONS, executions)
    if attempts:
        await session.execute(_INSERT_ATTEMPTS, attempts)
    if spend:
        # Budgets read these sums; adding in the same transaction keeps them exact.
        statement = pg_insert(Spend).values(spend)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Spend.scope_key, Spend.day],
                set_={"spent_usd": Spend.spent_usd + statement.excluded.spent_usd},
            )
        )


def _spend_rows(batch: list[ExecutionRecord]) -> list[dict[str, Any]]:
    """Cost of a batch summed per scope ("global", "agent:<name>") and UTC day."""
    totals: dict[tuple[str, datetime], Decimal] = {}
    for record in batch:
        cost = Decimal(str(round(record.cost_usd, 8)))
        if not cost:
            continue
        day = record.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for key in ("global", f"agent:{record.agent}"):
            totals[(key, day)] = totals.get((key, day), Decimal(0)) + cost
    return [{"scope_key": k, "day": d, "spent_usd": v} for (k, d), v in totals.items()]
