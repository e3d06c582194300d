"""Retention of the execution log, run in the background: months made ahead, whole months
dropped once every record in them has expired, other expired records deleted in small
batches, and the model's raw text cleared earlier where a policy says so.

How long an agent's records are kept is its spec's `retention_days` (its live version's,
else its latest's), else the server's `SPECLOOM_EXECUTION_RETENTION_DAYS`, else for ever;
raw text likewise with `raw_text_retention_days`. Executions a test case was made from, or
a job item points at, are kept whatever the policy. The usage rollups are never trimmed:
the numbers outlive the records.

Nothing here blocks the writers: a month is detached CONCURRENTLY (which waits for readers
and writers rather than making them wait) before it is dropped, and each batch is one short
statement of its own, in autocommit, touching `batch` records.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg
import structlog
from psycopg import sql

from app.core.loops import BackgroundLoop
from app.core.setting_groups import WriterSettings
from app.core.writes import WriterConnection
from app.executions.partitions import forget_month, month_of

log = structlog.get_logger(__name__)

# One pass at a time across every process: the others skip it.
_LOCK: LiteralString = "SELECT pg_try_advisory_lock(hashtext('specloom_retention'))"
_UNLOCK: LiteralString = "SELECT pg_advisory_unlock(hashtext('specloom_retention'))"

_POLICIES: LiteralString = """
SELECT s.name, v.document -> 'retention_days', v.document -> 'raw_text_retention_days'
FROM spec s JOIN spec_version v
    ON v.spec_id = s.id AND v.version = coalesce(s.live_version, s.latest_version)
"""
_AGENTS: LiteralString = "SELECT DISTINCT agent FROM execution_daily"
_MONTHS: LiteralString = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'execution'::regclass ORDER BY 1
"""
_MONTH_AGENTS: LiteralString = (
    "SELECT DISTINCT agent FROM execution_daily WHERE day >= %s AND day < %s"
)
# The next `batch` records of an agent from a cursor, in the order of its index: those no
# test case or job item names are deleted, with their attempts, in the same statement.
_DELETE: LiteralString = """
WITH batch AS (
    SELECT id, created_at FROM execution
    WHERE agent = %(agent)s AND created_at < %(before)s
        AND (created_at, id) > (%(after)s, %(after_id)s)
    ORDER BY created_at, id LIMIT %(batch)s
), doomed AS (
    SELECT b.id, b.created_at FROM batch b
    WHERE NOT EXISTS (SELECT FROM test_case t WHERE t.execution_id = b.id)
        AND NOT EXISTS (SELECT FROM job_item j WHERE j.execution_id = b.id)
), attempts AS (
    DELETE FROM attempt a USING doomed d
    WHERE a.execution_id = d.id AND a.created_at = d.created_at
), executions AS (
    DELETE FROM execution e USING doomed d
    WHERE e.id = d.id AND e.created_at = d.created_at RETURNING 1
)
SELECT (SELECT count(*) FROM executions), last.created_at, last.id
FROM (SELECT created_at, id FROM batch ORDER BY created_at DESC, id DESC LIMIT 1) AS last
"""
_CLEAR_RAW: LiteralString = """
WITH batch AS (
    SELECT id, created_at FROM execution
    WHERE agent = %(agent)s AND created_at < %(before)s
        AND (created_at, id) > (%(after)s, %(after_id)s)
    ORDER BY created_at, id LIMIT %(batch)s
), cleared AS (
    UPDATE attempt a SET raw_text = NULL FROM batch b
    WHERE a.execution_id = b.id AND a.created_at = b.created_at AND a.raw_text IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM cleared), last.created_at, last.id
FROM (SELECT created_at, id FROM batch ORDER BY created_at DESC, id DESC LIMIT 1) AS last
"""
_KEPT_IN: LiteralString = """
SELECT EXISTS (SELECT FROM test_case t JOIN {month} e ON e.id = t.execution_id)
    OR EXISTS (SELECT FROM job_item j JOIN {month} e ON e.id = j.execution_id)
"""
_PARTITION = re.compile(r"^execution_y(\d{4})m(\d{2})$")
_START = (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0))


@dataclass(frozen=True)
class Policy:
    """Days an agent's records, and their raw text, are kept (None: for ever)."""

    days: int | None
    raw_text_days: int | None


@dataclass
class Removed:
    """What one pass removed."""

    months: list[str] = field(default_factory=list)
    executions: int = 0
    raw_texts: int = 0


class Retention:
    """Applies the retention policies to the log; `run_once` is one pass."""

    def __init__(self, config: WriterSettings, *, pause_s: float = 0.01) -> None:
        self._default = Policy(config.retention_days, config.raw_text_retention_days)
        self._batch = config.retention_batch
        self._pause_s = pause_s  # between batches: the writers' statements go first
        # Where the raw-text pass of each agent got to: cleared text stays cleared.
        self._raw_done: dict[str, tuple[datetime, uuid.UUID]] = {}

    async def run_once(self, connection: psycopg.AsyncConnection[Any], now: datetime) -> Removed:
        """Make the next months, then remove what has expired at `now` (nothing when another
        process is running a pass). `connection` must be in autocommit."""
        removed = Removed()
        row = await (await connection.execute(_LOCK)).fetchone()
        if not row or not row[0]:
            return removed
        try:
            for ahead in range(3):
                await connection.execute(
                    "SELECT specloom_log_month(%s)", (now + timedelta(days=31 * ahead),)
                )
            policies = await self._policies(connection)
            removed.months = await self._drop_months(connection, policies, now)
            for agent, policy in policies.items():
                removed.executions += await self._delete(connection, agent, policy, now)
                removed.raw_texts += await self._clear_raw(connection, agent, policy, now)
        finally:
            await connection.execute(_UNLOCK)
        if removed.months or removed.executions or removed.raw_texts:
            log.info("retention", **vars(removed))
        return removed

    async def _policies(self, connection: psycopg.AsyncConnection[Any]) -> dict[str, Policy]:
        """Every agent with records (or a spec) and its policy."""
        policies = {
            agent: self._default
            for (agent,) in await (await connection.execute(_AGENTS)).fetchall()
        }
        for name, days, raw_days in await (await connection.execute(_POLICIES)).fetchall():
            policies[name] = Policy(
                days if isinstance(days, int) else self._default.days,
                raw_days if isinstance(raw_days, int) else self._default.raw_text_days,
            )
        return policies

    async def _drop_months(
        self, connection: psycopg.AsyncConnection[Any], policies: dict[str, Policy], now: datetime
    ) -> list[str]:
        """Drop each month whose every record has expired and none of which is kept."""
        dropped = []
        for (name,) in await (await connection.execute(_MONTHS)).fetchall():
            match = _PARTITION.match(name)
            if match is None:
                continue
            start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            end = month_of(start + timedelta(days=32))
            if not await self._expired(connection, policies, start, end, now):
                continue
            query = sql.SQL(_KEPT_IN).format(month=sql.Identifier(name))
            kept = await (await connection.execute(query)).fetchone()
            if kept and kept[0]:
                continue  # the batches below remove all but the records kept
            await _drop(connection, start)
            dropped.append(start.strftime("%Y-%m"))
        return dropped

    async def _expired(
        self,
        connection: psycopg.AsyncConnection[Any],
        policies: dict[str, Policy],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> bool:
        if end > now:
            return False
        agents = await (await connection.execute(_MONTH_AGENTS, (start, end))).fetchall()
        for (agent,) in agents:
            days = policies.get(agent, self._default).days
            if days is None or end > now - timedelta(days=days):
                return False
        return True

    async def _delete(
        self, connection: psycopg.AsyncConnection[Any], agent: str, policy: Policy, now: datetime
    ) -> int:
        if policy.days is None:
            return 0
        before = now - timedelta(days=policy.days)
        count, _ = await self._batches(connection, _DELETE, agent, before, _START)
        return count

    async def _clear_raw(
        self, connection: psycopg.AsyncConnection[Any], agent: str, policy: Policy, now: datetime
    ) -> int:
        if policy.raw_text_days is None:
            return 0
        before = now - timedelta(days=policy.raw_text_days)
        count, self._raw_done[agent] = await self._batches(
            connection, _CLEAR_RAW, agent, before, self._raw_done.get(agent, _START)
        )
        return count

    async def _batches(
        self,
        connection: psycopg.AsyncConnection[Any],
        statement: LiteralString,
        agent: str,
        before: datetime,
        after: tuple[datetime, uuid.UUID],
    ) -> tuple[int, tuple[datetime, uuid.UUID]]:
        """Run `statement` batch after batch over `agent`'s records before `before`, from
        the cursor `after`; how many rows it changed, and where it stopped."""
        total = 0
        while True:
            params = {"agent": agent, "before": before, "batch": self._batch}
            params |= {"after": after[0], "after_id": after[1]}
            row = await (await connection.execute(statement, params)).fetchone()
            if row is None:
                return total, after
            total += row[0]
            after = (row[1], row[2])
            await asyncio.sleep(self._pause_s)


async def _drop(connection: psycopg.AsyncConnection[Any], month: datetime) -> None:
    """Detach a month of both tables without blocking their users, then drop it."""
    suffix = month.strftime("y%Ym%m")
    for table in ("attempt", "execution"):
        parent, part = sql.Identifier(table), sql.Identifier(f"{table}_{suffix}")
        await connection.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {} CONCURRENTLY").format(parent, part)
        )
        await connection.execute(sql.SQL("DROP TABLE {}").format(part))
    forget_month(connection.info.dbname, month)


class RetentionLoop:
    """Runs a retention pass every `retention_interval_s` on a connection of its own."""

    def __init__(self, config: WriterSettings) -> None:
        self._retention = Retention(config)
        self._interval_s = config.retention_interval_s
        self._db: WriterConnection | None = None
        self._loop: BackgroundLoop | None = None
        self.last = Removed()  # what the last pass removed

    def start(self, conninfo: str) -> None:
        """Start the passes (the first after one interval: the writer makes the month it
        needs at once, and a start-up is no time for deleting)."""
        self._db = WriterConnection(conninfo)
        self._loop = BackgroundLoop(
            self._step,
            name="execution-retention",
            interval_s=self._interval_s,
            message="execution retention failed",
        )
        self._loop.start()

    async def stop(self) -> None:
        """Stop between two batches (a batch is one statement: none is left half done)."""
        if self._loop is not None:
            await self._loop.stop()
        if self._db is not None:
            await self._db.close()

    async def _step(self) -> bool:
        assert self._db is not None
        await self._db.run(self._pass)
        return False

    async def _pass(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.last = await self._retention.run_once(connection, datetime.now(UTC))
