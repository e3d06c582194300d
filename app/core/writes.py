"""Background writes on a connection of their own: one psycopg connection per writer.

A batch written through an ORM session pays for the session, the pool's checkout and
reset, and a round trip per statement, about 2 ms of CPU before the first row (issue 10).
A writer is one task writing one batch at a time, so it keeps one connection and sends a
batch's statements as one pipeline inside one transaction: one round trip per batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import fastjson


def conninfo_of(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """The libpq URI of the database `sessionmaker`'s sessions use."""
    url = sessionmaker.kw["bind"].url.render_as_string(hide_password=False)
    return str(url).replace("postgresql+psycopg://", "postgresql://", 1)


class WriterConnection:
    """A writer's connection: opened on first use, opened again after a failed batch."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[Any] | None = None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One transaction whose statements travel as one pipeline; commits on success."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await psycopg.AsyncConnection.connect(self._conninfo)
            self._connection = connection
        try:
            async with connection.pipeline(), connection.transaction():
                yield connection
        except BaseException:
            # Whatever went wrong, the next batch starts on a fresh connection.
            self._connection = None
            await connection.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


def jsonb(value: Any) -> Jsonb | None:
    """A value bound as `jsonb` (NULL for None), encoded by orjson."""
    return None if value is None else Jsonb(value, fastjson.dumps)


def arrays(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column: the parameters of an `unnest` insert."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
