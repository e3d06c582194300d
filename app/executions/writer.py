"""Execution records: built during a call, written in batches off the request's path.

A call hands its record to the writer and answers at once; the writer inserts whatever has
gathered every few milliseconds in one transaction. On shutdown it drains everything, and
a failed write is retried rather than dropped.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, LiteralString

import psycopg
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.loops import BackgroundLoop
from app.core.setting_groups import WriterSettings
from app.core.tracing import span
from app.core.writes import WriterConnection, conninfo_of, jsonb
from app.executions.record import ExecutionRecord, usd

log = structlog.get_logger(__name__)

# One statement stores a whole batch, so it is atomic without a transaction of its own
# and costs one round trip: each table's rows travel as one JSON array (encoded by orjson
# in C), which Postgres unpacks with jsonb_to_recordset. Per-row parameters (SQLAlchemy's
# executemany, or one array per column) spent most of the writers' CPU. The
# attempts' foreign key is checked at the end of the statement, after both inserts.
_STORE: LiteralString = """
WITH executions AS (
    INSERT INTO execution (id, agent, version, status, input, output, error, cache, model,
        offline, latency_ms, prompt_tokens, completion_tokens, cost_usd, request_id,
        source, api_key_id, created_at)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, agent varchar, version int,
        status varchar, input jsonb, output jsonb, error jsonb, cache varchar, model varchar,
        offline bool, latency_ms float8, prompt_tokens int, completion_tokens int,
        cost_usd numeric, request_id varchar, source varchar, api_key_id uuid,
        created_at timestamptz)
), attempts AS (
    INSERT INTO attempt (id, execution_id, number, kind, model, outcome, raw_text, issues,
        error, latency_ms, prompt_tokens, completion_tokens, cost_usd)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, execution_id uuid, number int,
        kind varchar, model varchar, outcome varchar, raw_text text, issues jsonb,
        error text, latency_ms float8, prompt_tokens int, completion_tokens int,
        cost_usd numeric)
)
INSERT INTO spend (scope_key, day, spent_usd)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(scope_key varchar, day timestamptz,
    spent_usd numeric)
ON CONFLICT (scope_key, day) DO UPDATE SET spent_usd = spend.spent_usd + excluded.spent_usd
"""


class ExecutionWriter:
    """Batches execution records into Postgres in the background."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        config: WriterSettings = WriterSettings(),
    ) -> None:
        self._db = WriterConnection(conninfo_of(sessionmaker))
        self._batch_size = config.batch_size
        self._pending: list[ExecutionRecord] = []
        self._pending_ids: dict[uuid.UUID, asyncio.Event] = {}
        # A failed write keeps its records and is tried again: none may be lost. Only a
        # stop that keeps failing gives up, after 21 failures in a row.
        self._loop = BackgroundLoop(
            self._write_batch,
            name="execution-writer",
            interval_s=config.flush_interval_s,
            message="writing executions failed",
            level="error",
            drain=True,
            give_up_after=21,
        )

    def submit(self, record: ExecutionRecord) -> None:
        """Queue a record; it is written within one flush interval."""
        self._pending.append(record)
        self._pending_ids[record.id] = asyncio.Event()
        if len(self._pending) >= self._batch_size:
            self._loop.wake()

    @property
    def pending(self) -> int:
        """How many records wait to be written (a gauge of /metrics)."""
        return len(self._pending)

    async def wait_written(self, execution_id: uuid.UUID) -> None:
        """Return once `execution_id` is in the database (at once if it is not pending)."""
        event = self._pending_ids.get(execution_id)
        if event is not None:
            self._loop.wake()
            await event.wait()

    def start(self) -> None:
        """Start writing in the background."""
        self._loop.start()

    async def stop(self) -> None:
        """Write everything still pending, then stop."""
        started = self._loop.running
        await self._loop.stop()
        if started and self._pending:
            log.critical("giving up on executions", lost=len(self._pending))
        await self._db.close()

    async def _write_batch(self) -> bool:
        """Write the oldest batch of pending records; True when more are waiting."""
        if not self._pending:
            return False
        batch = self._pending[: self._batch_size]
        await self._write(batch)
        del self._pending[: len(batch)]
        for record in batch:
            event = self._pending_ids.pop(record.id, None)
            if event is not None:
                event.set()
        return bool(self._pending)

    async def _write(self, batch: list[ExecutionRecord]) -> None:
        with span("write executions", {"specloom.batch_size": len(batch)}):
            await self._db.run(partial(store_records, batch=batch))


async def store_records(
    connection: psycopg.AsyncConnection[Any], batch: list[ExecutionRecord]
) -> None:
    """Insert executions, their attempts and their spend: one statement, one round trip.

    The one way records reach the database: the writer's batches (on its own connection)
    and job items (on their session's connection, inside its transaction) alike.
    """
    executions: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for record in batch:
        execution, rows = record.rows()
        executions.append(execution)
        attempts.extend(rows)
    # Budgets read the spend sums; adding in the same statement keeps them exact.
    spend = _spend_rows(batch)
    await connection.execute(
        _STORE,
        (jsonb(executions), jsonb(attempts), jsonb(spend)),
        prepare=True,
    )


def _spend_rows(batch: list[ExecutionRecord]) -> list[dict[str, Any]]:
    """Cost of a batch summed per scope ("global", "agent:<name>") and UTC day."""
    totals: dict[tuple[str, datetime], Decimal] = {}
    for record in batch:
        cost = usd(record.cost_usd)
        if not cost:
            continue
        day = record.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for key in ("global", f"agent:{record.agent}"):
            totals[(key, day)] = totals.get((key, day), Decimal(0)) + cost
    # The sums as decimal strings: exact, and Postgres reads a numeric from a JSON string.
    return [{"scope_key": k, "day": d, "spent_usd": str(v)} for (k, d), v in totals.items()]
