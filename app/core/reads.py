"""Hot-path reads: one prepared statement on a pooled autocommit psycopg connection.

A read through an ORM session costs four round trips (BEGIN, the query, ROLLBACK, the
pool's reset) and the session's Python; a call that misses the response cache pays that on
every request. This pool answers a single-statement read in one round trip, with the
statement prepared once per connection. Writes and anything transactional stay on the
SQLAlchemy sessions.

The pool package is imported and the pool opened in the background, so start-up does not
wait for either; until `ready`, callers use their ORM path.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg
import structlog

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

log = structlog.get_logger(__name__)

_CONNECTION_WAIT_S = 1.0


class FastReads:
    """A small pool of autocommit connections for single-statement reads."""

    def __init__(self, conninfo: str, *, max_size: int = 10) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] | None = None
        self._opening: asyncio.Task[None] | None = None
        self._down_until = 0.0  # monotonic time before which reads fail without waiting

    @property
    def ready(self) -> bool:
        """Whether reads go through the pool (else the caller's ORM path answers)."""
        return self._pool is not None

    def open(self) -> None:
        """Start importing the pool package and connecting, in the background."""
        if self._opening is None:
            self._opening = asyncio.create_task(self._open(), name="hot-path-reads")

    async def wait_ready(self) -> None:
        """Wait for the background opening (tests; nothing on the hot path waits)."""
        if self._opening is not None:
            await self._opening

    async def _open(self) -> None:
        try:
            module = await asyncio.to_thread(importlib.import_module, "psycopg_pool")
            pool = module.AsyncConnectionPool(
                self._conninfo,
                min_size=1,
                max_size=self._max_size,
                kwargs={"autocommit": True, "prepare_threshold": 0},
                open=False,
                name="hot-path-reads",
            )
            await pool.open(wait=False)  # a down database does not block this either
        except Exception as exc:  # the ORM path keeps answering
            log.warning("hot-path read pool unavailable", error=repr(exc))
            return
        self._pool = pool

    async def close(self) -> None:
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def fetchone(
        self, query: LiteralString, params: tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        """The first row of `query` (None when there is none); psycopg errors propagate."""
        if self._pool is None:
            raise RuntimeError("the read pool is not open (check `ready` first)")
        now = time.monotonic()
        if now < self._down_until:
            # Out of reach a moment ago: callers fall back at once; one per wait tries again.
            raise psycopg.OperationalError("the database was out of reach a moment ago")
        try:
            # A short wait for a connection: with the database out of reach the pool would
            # hold every caller for its 30 s default.
            async with self._pool.connection(timeout=_CONNECTION_WAIT_S) as conn:
                cursor = await conn.execute(query, params, prepare=True)
                return await cursor.fetchone()
        except psycopg.OperationalError:
            self._down_until = time.monotonic() + _CONNECTION_WAIT_S
            raise
