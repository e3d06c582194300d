"""Execution records: built during a call, written in batches off the request's path.

A call hands its record to the writer and answers at once; the writer inserts whatever has
gathered every few milliseconds in one transaction. On shutdown it drains everything, for at
most `stop_timeout_s`. A write that fails because the database is out of reach is retried
rather than dropped; one that fails because of what a record holds is split in halves until
the record at fault is alone, and that one is set aside (logged, counted, and kept as text
in `dead_letter`, its spend still counted) while the rest are written. One bad record never
holds up the others, nor the budgets that read their spend.
"""

from __future__ import annotations

import asyncio
import json
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
from app.executions.partitions import ensure_months
from app.executions.record import ExecutionRecord, usd
from app.executions.rollup import rollup_rows

log = structlog.get_logger(__name__)

# What a batch adds to one usage rollup (`{rollup}` per `{time}`), summed into its rows.
_USAGE_ROLLUP: LiteralString = """
    INSERT INTO {rollup} AS h ({time}, agent, version, model, source, calls, failed,
        prompt_tokens, completion_tokens, cost_usd, attempts, attempt_prompt_tokens,
        attempt_completion_tokens, attempt_cost_usd)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r({time} timestamptz, agent varchar,
        version int, model varchar, source varchar, calls bigint, failed bigint,
        prompt_tokens bigint, completion_tokens bigint, cost_usd numeric, attempts bigint,
        attempt_prompt_tokens bigint, attempt_completion_tokens bigint,
        attempt_cost_usd numeric)
    ON CONFLICT ({time}, agent, version, model, source) DO UPDATE SET
        calls = h.calls + excluded.calls,
        failed = h.failed + excluded.failed,
        prompt_tokens = h.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = h.completion_tokens + excluded.completion_tokens,
        cost_usd = h.cost_usd + excluded.cost_usd,
        attempts = h.attempts + excluded.attempts,
        attempt_prompt_tokens = h.attempt_prompt_tokens + excluded.attempt_prompt_tokens,
        attempt_completion_tokens =
            h.attempt_completion_tokens + excluded.attempt_completion_tokens,
        attempt_cost_usd = h.attempt_cost_usd + excluded.attempt_cost_usd
"""

# One statement stores a whole batch, so it is atomic without a transaction of its own
# and costs one round trip: each table's rows travel as one JSON array (encoded by orjson
# in C), which Postgres unpacks with jsonb_to_recordset. Per-row parameters (SQLAlchemy's
# executemany, or one array per column) spent most of the writers' CPU. The rollups and
# the spend are summed in the same statement, so they never drift from the records (a
# batch's rows are summed per key first: one statement may not update a row twice).
_STORE: LiteralString = (
    """
WITH executions AS (
    INSERT INTO execution (id, agent, version, status, input, output, error, cache, model,
        model_choice, offline, latency_ms, prompt_tokens, completion_tokens, cost_usd,
        request_id, source, api_key_id, created_at, label, rollout_id, shadow_id, shadow_of)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, agent varchar, version int,
        status varchar, input jsonb, output jsonb, error jsonb, cache varchar, model varchar,
        model_choice varchar, offline bool, latency_ms float8, prompt_tokens int,
        completion_tokens int, cost_usd numeric, request_id varchar, source varchar,
        api_key_id uuid, created_at timestamptz, label varchar, rollout_id uuid,
        shadow_id uuid, shadow_of uuid)
), attempts AS (
    INSERT INTO attempt (id, execution_id, number, kind, model, outcome, raw_text, issues,
        error, latency_ms, prompt_tokens, completion_tokens, cost_usd, created_at)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, execution_id uuid, number int,
        kind varchar, model varchar, outcome varchar, raw_text text, issues jsonb,
        error text, latency_ms float8, prompt_tokens int, completion_tokens int,
        cost_usd numeric, created_at timestamptz)
), hourly AS ("""
    + _USAGE_ROLLUP.replace("{rollup}", "execution_hourly").replace("{time}", "hour")
    + "), daily AS ("
    + _USAGE_ROLLUP.replace("{rollup}", "execution_daily").replace("{time}", "day")
    + """), latency AS (
    INSERT INTO execution_hourly_latency AS l (hour, agent, source, calls, failed, cost_usd,
        latency)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(hour timestamptz, agent varchar,
        source varchar, calls bigint, failed bigint, cost_usd numeric, latency bigint[])
    ON CONFLICT (hour, agent, source) DO UPDATE SET
        calls = l.calls + excluded.calls,
        failed = l.failed + excluded.failed,
        cost_usd = l.cost_usd + excluded.cost_usd,
        latency = ARRAY(SELECT x + y FROM unnest(l.latency, excluded.latency)
            WITH ORDINALITY AS t(x, y, i) ORDER BY i)
)
INSERT INTO spend (scope_key, day, spent_usd)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(scope_key varchar, day timestamptz,
    spent_usd numeric)
ON CONFLICT (scope_key, day) DO UPDATE SET spent_usd = spend.spent_usd + excluded.spent_usd
"""
)

# A record set aside and its spend, in one statement like a batch: a budget must see the
# spend of a call whose record could not be stored.
_SET_ASIDE: LiteralString = """
WITH dead AS (
    INSERT INTO dead_letter (id, kind, record_id, payload, error)
    VALUES (gen_random_uuid(), 'execution', %s, %s, %s)
)
INSERT INTO spend (scope_key, day, spent_usd)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(scope_key varchar, day timestamptz,
    spent_usd numeric)
ON CONFLICT (scope_key, day) DO UPDATE SET spent_usd = spend.spent_usd + excluded.spent_usd
"""

# Failures of the database or the way to it, not of the records: the batch is tried again.
_UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, OSError, TimeoutError)


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
        self._stop_timeout_s = config.stop_timeout_s
        # Cost of the records not written yet, per spend scope: budgets add it to what the
        # database says, so this process never spends past a budget while its writer is
        # behind (or the database away). A crash loses only what its last flush missed.
        self._unwritten: dict[str, Decimal] = {}
        self.set_aside = 0  # records put in dead_letter since start (a counter of /metrics)
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
        self._count_spend(record, 1)
        if len(self._pending) >= self._batch_size:
            self._loop.wake()

    def unwritten_spend(self, scope_key: str) -> Decimal:
        """USD of this process's calls in `scope_key` ("global", "agent:<name>") whose
        records (and so whose spend) are not in the database yet."""
        return self._unwritten.get(scope_key, Decimal(0))

    def _count_spend(self, record: ExecutionRecord, sign: int) -> None:
        cost = usd(record.cost_usd)
        if cost:
            for key in ("global", f"agent:{record.agent}"):
                self._unwritten[key] = self._unwritten.get(key, Decimal(0)) + sign * cost

    @property
    def pending(self) -> int:
        """How many records wait to be written (a gauge of /metrics)."""
        return len(self._pending)

    async def wait_written(self, execution_id: uuid.UUID, timeout_s: float = 5.0) -> bool:
        """Wait until `execution_id` is in the database (at once if it is not pending), for
        at most `timeout_s`; False when it is still pending then (the database is down, say)."""
        event = self._pending_ids.get(execution_id)
        if event is None:
            return True
        self._loop.wake()
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        """Start writing in the background."""
        self._loop.start()

    async def stop(self) -> None:
        """Write everything still pending (for at most `stop_timeout_s`), then stop."""
        started = self._loop.running
        try:
            async with asyncio.timeout(self._stop_timeout_s):
                await self._loop.stop()
        except TimeoutError:
            pass
        if started and self._pending:
            log.critical("giving up on executions", lost=len(self._pending))
        await self._db.close()

    async def _write_batch(self) -> bool:
        """Write the oldest batch of pending records; True when more are waiting."""
        if not self._pending:
            return False
        await self._write_or_isolate(self._pending[: self._batch_size])
        return bool(self._pending)

    async def _write_or_isolate(self, batch: list[ExecutionRecord]) -> None:
        """Write `batch`; if its content fails, halve it until the bad records stand alone.

        Each part written is done at once, so a retry after the database goes away never
        writes a record twice.
        """
        try:
            await self._write(batch)
        except _UNREACHABLE:
            raise
        except Exception as exc:  # what the records hold: a bad record, to be isolated
            if len(batch) == 1:
                await self._set_aside(batch[0], exc)
            else:
                half = len(batch) // 2
                await self._write_or_isolate(batch[:half])
                await self._write_or_isolate(batch[half:])
                return
        self._done(batch)

    def _done(self, batch: list[ExecutionRecord]) -> None:
        written = {record.id for record in batch}
        self._pending = [record for record in self._pending if record.id not in written]
        for record in batch:
            self._count_spend(record, -1)
            event = self._pending_ids.pop(record.id, None)
            if event is not None:
                event.set()

    async def _write(self, batch: list[ExecutionRecord]) -> None:
        with span("write executions", {"specloom.batch_size": len(batch)}):
            await self._db.run(partial(store_records, batch=batch))

    async def _set_aside(self, record: ExecutionRecord, error: Exception) -> None:
        self.set_aside += 1
        reason = f"{type(error).__name__}: {error}"
        log.error("execution record set aside", execution_id=str(record.id), error=reason)
        await self._db.run(partial(_store_dead_letter, record=record, error=reason))


async def _store_dead_letter(
    connection: psycopg.AsyncConnection[Any], record: ExecutionRecord, error: str
) -> None:
    execution, attempts = record.rows()
    # ensure_ascii writes any string as escapes, lone surrogates included; NUL is escaped too.
    payload = json.dumps({"execution": execution, "attempts": attempts}, default=str)
    await connection.execute(_SET_ASIDE, (record.id, payload, error, jsonb(_spend_rows([record]))))


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
    rollup = rollup_rows(batch)
    await ensure_months(connection, {record.created_at for record in batch})
    await connection.execute(
        _STORE,
        (
            jsonb(executions),
            jsonb(attempts),
            jsonb(rollup.hourly),
            jsonb(rollup.daily),
            jsonb(rollup.latency),
            jsonb(spend),
        ),
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
