"""The exact-match response cache: the same compiled version, input and model parameters give
the stored answer instead of a new model call.

Two levels: an in-process LRU (microseconds) in front of the `response_cache` table, which
every process shares. A put lands in the LRU at once and reaches Postgres in a batch written
in the background, so storing never delays a response. Identical concurrent calls share one
model call (single flight). Only successful outputs are stored. A key index (`cache_index`)
knows which keys the table may hold, so a call with a new input skips the lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, LiteralString, TypeVar, cast

import psycopg
import structlog
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.compiler.document import ModelChoice
from app.core import fastjson
from app.core.clock import Clock
from app.core.loops import BackgroundLoop
from app.core.reads import FastReads
from app.core.setting_groups import CacheSettings
from app.core.writes import WriterConnection, conninfo_of, jsonb
from app.models.resilience import ResponseCacheEntry as Entry
from app.serving.cache_index import CHANNEL, KeyIndex, payloads
from app.serving.live import AgentVersion

log = structlog.get_logger(__name__)

T = TypeVar("T")

# The same query as the ORM path of `_select`, for the hot-path pool.
_LOOKUP_SQL = (
    "SELECT agent, version, output, model, expires_at FROM response_cache"
    " WHERE key = %s AND expires_at > %s"
)

# One statement per flush, atomic without a transaction of its own: the rows travel as one
# JSON array (orjson), and the NOTIFY that keeps every process's key index current is sent
# when the statement commits. Per-row parameters spent most of a flush's CPU.
_UPSERT: LiteralString = """
WITH stored AS (
    INSERT INTO response_cache (key, agent, version, output, model, expires_at)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(key varchar, agent varchar,
        version int, output jsonb, model varchar, expires_at timestamptz)
    ON CONFLICT (key) DO UPDATE SET agent = excluded.agent, version = excluded.version,
        output = excluded.output, model = excluded.model, expires_at = excluded.expires_at,
        created_at = clock_timestamp()
)
SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload
"""


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A stored output and the agent version and model that produced it."""

    agent: str
    version: int
    output: dict[str, Any]
    model: str | None


@dataclass(frozen=True)
class CachePolicy:
    """How one agent version is cached: the parameters in its key and the entries' lifetime."""

    params: dict[str, Any]
    ttl_s: float
    offline: bool = False


async def _upsert(connection: psycopg.AsyncConnection[Any], params: tuple[Any, ...]) -> None:
    await connection.execute(_UPSERT, params, prepare=True)


def cache_policy(
    agent: AgentVersion,
    *,
    default_model: str,
    default_ttl_s: float,
    offline: bool = False,
    model_override: str | None = None,
) -> CachePolicy | None:
    """The cache policy of `agent`, or None when its outputs must not be cached.

    Outputs with a field marked `x-sensitive` are never cached.

    `model.cache` in the spec decides when set. Unset, outputs are cached only at temperature
    0, where a model is (close to) deterministic; an unset temperature means the provider's
    default (usually 1), so it is not taken as 0.
    """
    if agent.sensitive_output:
        return None  # the cache must hand back whole outputs, so it would keep them in clear
    choice = agent.document.model or ModelChoice()
    enabled = choice.cache if choice.cache is not None else choice.temperature == 0
    if not enabled:
        return None
    # The document (every model field included) is already in the version's hash; these are
    # what the hash cannot see: the default model from settings, an override, offline serving,
    # and the models an `auto` version's matrix chose (a new matrix must not get old answers).
    chosen = [choice.name or default_model]
    if choice.auto:
        chosen = list(agent.auto_models) or [default_model]
    names = [*([model_override] if model_override else chosen), *choice.fallbacks]
    params = {
        "models": list(dict.fromkeys(names)),
        "temperature": choice.temperature,
        "max_tokens": choice.max_tokens,
        "offline": offline,
    }
    ttl_s = choice.cache_ttl_s or default_ttl_s
    return CachePolicy(params=params, ttl_s=ttl_s, offline=offline)


def cache_key(content_hash: str, payload: Any, params: dict[str, Any]) -> str:
    """SHA-256 (hex) of the key-sorted JSON of the version hash, the input and the parameters."""
    keyed = {"hash": content_hash, "input": payload, "params": params}
    text = fastjson.dumps(keyed, sort_keys=True)
    return hashlib.sha256(text).hexdigest()


def wants_fresh(cache_control: str | None) -> bool:
    """Whether a `Cache-Control` request header carries the `no-cache` directive."""
    if not cache_control:
        return False
    return any(d.split("=", 1)[0].strip().lower() == "no-cache" for d in cache_control.split(","))


class ResponseCache:
    """An LRU in front of the shared `response_cache` table, with single flight."""

    batch_size = 500  # rows per upsert
    purge_batch = 5000  # expired rows deleted per purge

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        config: CacheSettings = CacheSettings(),
        flush_interval_s: float = 0.05,
        purge_interval_s: float = 60.0,
        reads: FastReads | None = None,
    ) -> None:
        self.clock = clock
        # Lookups on the hot path take one round trip on this pool when given.
        self._reads = reads
        self.default_ttl_s = config.ttl_s
        self._sessionmaker = sessionmaker
        conninfo = conninfo_of(sessionmaker)
        self._db = WriterConnection(conninfo)  # flushes
        # Which keys the table may hold; until started and loaded it answers "maybe".
        self.index = KeyIndex(conninfo)
        self._max_entries = config.max_entries
        self._purge_interval_s = purge_interval_s
        # key → (hit, expiry on the monotonic clock); most recently used last
        self._lru: OrderedDict[str, tuple[CacheHit, float]] = OrderedDict()
        self._pending: dict[str, dict[str, Any]] = {}  # key → row not yet in Postgres
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self._write_lock = asyncio.Lock()
        self._next_purge = clock.monotonic()
        # Puts reach Postgres in the background; a stop writes what is left, but entries
        # only save work, so it gives up after three failures rather than hold up a shutdown.
        self._writer = BackgroundLoop(
            self._write_round,
            name="response-cache-writer",
            interval_s=flush_interval_s,
            message="response cache write failed",
            drain=True,
            give_up_after=3,
            sleep=clock.sleep,
        )

    def peek(self, key: str) -> CacheHit | None:
        """The LRU's entry for `key` if it has a live one (no I/O)."""
        entry = self._lru.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock.monotonic():
            del self._lru[key]
            return None
        self._lru.move_to_end(key)
        return entry[0]

    async def get(self, key: str) -> CacheHit | None:
        """The live entry for `key`: from the LRU, else from Postgres (refilling the LRU).

        Postgres is not asked when the key index knows no process stored the key.
        """
        hit = self.peek(key)
        if hit is not None or not self.index.may_hold(key):
            return hit
        # Identical requests arriving together make one Postgres round trip, not one each.
        found, _ = await self.single_flight("load:" + key, partial(self._load, key))
        return found

    async def put(
        self,
        key: str,
        *,
        agent: str,
        version: int,
        output: dict[str, Any],
        model: str | None,
        ttl_s: float | None = None,
    ) -> None:
        """Store an output: in the LRU now, in Postgres with the next background flush."""
        ttl = ttl_s or self.default_ttl_s
        self._remember(key, CacheHit(agent, version, output, model), ttl)
        expires_at = self.clock.now() + timedelta(seconds=ttl)
        self._pending[key] = {
            "key": key,
            "agent": agent,
            "version": version,
            "output": output,
            "model": model,
            "expires_at": expires_at,
        }
        self.index.add(key)
        if len(self._pending) >= self.batch_size:
            self._writer.wake()

    async def single_flight(
        self, key: str, fn: Callable[[], Coroutine[Any, Any, T]]
    ) -> tuple[T, bool]:
        """Run `fn` once for every concurrent caller with `key`.

        Returns its result (or raises its exception) for all of them, with True for the caller
        that started it. The entry goes when the call ends, however it ends.
        """
        task = self._flights.get(key)
        started_here = task is None
        if task is None:
            task = asyncio.create_task(fn(), name=f"single-flight {key[:16]}")
            self._flights[key] = task
            task.add_done_callback(partial(self._landed, key))
        # Shielded: one caller going away (a client disconnect) must not cancel the call
        # that the others are waiting for.
        result: T = await asyncio.shield(task)
        return result, started_here

    def start(self) -> None:
        """Start the background writer (flushes puts, purges expired rows) and the index."""
        self._writer.start()
        self.index.start()

    async def stop(self) -> None:
        """Write what is still pending, then stop the background writer."""
        started = self._writer.running
        await self._writer.stop()
        if started and self._pending:
            log.warning("response cache entries dropped", dropped=len(self._pending))
        await self._db.close()
        await self.index.stop()

    async def flush(self) -> None:
        """Upsert every pending entry into Postgres now."""
        async with self._write_lock:
            while self._pending:
                # Sorted keys: two processes upserting overlapping batches lock rows in the
                # same order, so they cannot deadlock.
                keys = sorted(self._pending)[: self.batch_size]
                rows = [self._pending[k] for k in keys]
                params = (jsonb(rows), CHANNEL, payloads(keys))
                await self._db.run(partial(_upsert, params=params))
                for key, row in zip(keys, rows, strict=True):
                    if self._pending.get(key) is row:  # a newer put waits for the next round
                        del self._pending[key]

    async def purge(self) -> int:
        """Delete up to one batch of expired rows; returns how many went."""
        doomed = (
            select(Entry.key)
            .where(Entry.expires_at < self.clock.now())
            .limit(self.purge_batch)
            # Processes purging at the same moment split the rows instead of queueing.
            .with_for_update(skip_locked=True)
        )
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(delete(Entry).where(Entry.key.in_(doomed)))
        return cast(CursorResult[Any], result).rowcount

    def _remember(self, key: str, hit: CacheHit, ttl_s: float) -> None:
        self._lru[key] = (hit, self.clock.monotonic() + ttl_s)
        self._lru.move_to_end(key)
        while len(self._lru) > self._max_entries:
            self._lru.popitem(last=False)

    async def _load(self, key: str) -> CacheHit | None:
        now = self.clock.now()
        try:
            row = await self._select(key, now)
        except (SQLAlchemyError, psycopg.Error) as exc:
            # The cache only saves work: with Postgres unwell the call goes to the models.
            log.warning("response cache lookup failed", error=str(exc))
            return None
        if row is None:
            return None
        agent, version, output, model, expires_at = row
        hit = CacheHit(agent, version, output, model)
        self._remember(key, hit, (expires_at - now).total_seconds())
        return hit

    async def _select(self, key: str, now: datetime) -> tuple[Any, ...] | None:
        if self._reads is not None and self._reads.ready:
            return await self._reads.fetchone(_LOOKUP_SQL, (key, now))
        query = select(Entry.agent, Entry.version, Entry.output, Entry.model, Entry.expires_at)
        query = query.where(Entry.key == key, Entry.expires_at > now)
        async with self._sessionmaker() as session:
            row = (await session.execute(query)).one_or_none()
        return tuple(row) if row is not None else None

    def _landed(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # mark it retrieved: every waiter may have gone away

    async def _write_round(self) -> None:
        """One round of the background writer: the pending puts, then expired rows if due.

        The loop paces itself in real time; what is due is decided by the injected clock.
        """
        await self.flush()
        if self.clock.monotonic() >= self._next_purge:
            self._next_purge = self.clock.monotonic() + self._purge_interval_s
            await self.purge()
