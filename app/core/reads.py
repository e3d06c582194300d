"""Hot-path reads: one prepared statement on a pooled autocommit psycopg connection.

A read through an ORM session costs four round trips (BEGIN, the query, ROLLBACK, the
pool's reset) and the session's Python; a call that misses the response cache pays that on
every request. This pool answers a single-statement read in one round trip, with the
statement prepared once per connection. Writes and anything transactional stay on the
SQLAlchemy sessions.
"""

from __future__ import annotations

from typing import Any, LiteralString

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class FastReads:
    """A small pool of autocommit connections for single-statement reads."""

    def __init__(self, conninfo: str, *, max_size: int = 10) -> None:
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "prepare_threshold": 0},
            open=False,
            name="hot-path-reads",
        )

    async def open(self) -> None:
        """Start connecting in the background (a down database does not block start-up)."""
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    async def fetchone(
        self, query: LiteralString, params: tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        """The first row of `query` (None when there is none); psycopg errors propagate."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params, prepare=True)
            return await cursor.fetchone()
