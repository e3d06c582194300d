"""The database engine, one session per request, and schema upgrades."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import psycopg
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from app.core.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]


def database_url(settings: Settings) -> str:
    """The async SQLAlchemy URL: the configured Postgres, or the embedded one."""
    if settings.database_url:
        url = settings.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    from app.core.embedded import embedded_database_url

    return embedded_database_url(settings.data_dir)


def make_engine(url: str) -> AsyncEngine:
    """A pooled async engine (psycopg 3).

    Connecting gives up after 5 s and waiting for a pooled connection after 10 s: a
    database out of reach is a quick 503 with Retry-After, not a request held for half a
    minute (the defaults: no connect timeout, a 30 s pool wait).
    """
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


def make_sessionmaker(
    engine: AsyncEngine, *, on_commit: Callable[[Session], None] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit.

    `on_commit` runs after every successful commit of these sessions (and only theirs): the
    place to act on what a transaction changed, such as dropping cached live versions.
    """
    session_class = type("AppSession", (Session,), {})
    if on_commit is not None:
        event.listen(session_class, "after_commit", on_commit)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)


async def driver_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under `session`, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return cast("psycopg.AsyncConnection[Any]", raw.driver_connection)


def sync_conninfo(url: str) -> str:
    """A libpq connection string (for LISTEN) from a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the request boundary commits once, before the response."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# The newest migration in migrations/ (tests/test_migrations.py holds the two together).
# Knowing it without Alembic lets a process whose database is current start, and answer
# /readyz, without importing Alembic or reading the migration scripts.
SCHEMA_HEAD = "0013_teams"


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, using the repository's alembic.ini and migrations/."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    """Bring the database at `url` to the newest migration (synchronous; call before serving)."""
    if schema_revision(url) == SCHEMA_HEAD:
        return  # current already: no need for Alembic
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def schema_revision(url: str) -> str | None:
    """The migration the database at `url` is at (None: none yet, or unreachable)."""
    try:
        with psycopg.connect(sync_conninfo(url), connect_timeout=10) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error:  # no table yet, or no database: Alembic says what is wrong
        return None
    return str(row[0]) if row is not None else None
