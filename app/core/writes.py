"""Background writes on a connection of their own: one psycopg connection per writer.

A batch written through an ORM session pays for the session, the pool's checkout and
reset, and a round trip per statement: about 2 ms of CPU before the first row.
A writer is one task writing one batch at a time, so it keeps one autocommit connection
and writes each batch as one statement (atomic by itself): one round trip per batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import fastjson
from app.core.database import sync_conninfo


def conninfo_of(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """The libpq URI of the database `sessionmaker`'s sessions use."""
    return sync_conninfo(sessionmaker.kw["bind"].url.render_as_string(hide_password=False))


def jsonb(value: Any) -> Jsonb:
    """A value bound as one `jsonb` parameter, encoded by orjson (a batch's rows, say)."""
    return Jsonb(value, fastjson.dumps)


class WriterConnection:
    """A writer's connection: opened on first use, opened again after a failed write."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def run(self, write: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]) -> None:
        """Run `write` on the connection (autocommit: make it one statement per batch)."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            self._connection = connection
        try:
            await write(connection)
        except BaseException:
            # Whatever went wrong, the next batch starts on a fresh connection.
            self._connection = None
            await connection.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
