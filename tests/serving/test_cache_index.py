"""The response cache's key index: a miss skips Postgres only when no process stored the key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import ManualClock
from app.core.writes import conninfo_of
from app.serving.cache import ResponseCache
from app.serving.cache_index import KeyIndex, payloads
from tests.components import Statements

OUTPUT = {"team": "billing"}
# Keys as the cache makes them (SHA-256 hex); the index keeps their first 16 digits.
OLD, NEW, NEVER = ("a" * 64, "b" * 64, "c" * 64)


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not become true in time")
        await asyncio.sleep(0.02)


async def stored(cache: ResponseCache, key: str) -> None:
    await cache.put(key, agent="ticket-triage", version=1, output=OUTPUT, model="m")
    await cache.flush()


@pytest.fixture
async def writer(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> AsyncIterator[ResponseCache]:
    """Another process's cache: it stores, never started."""
    cache = ResponseCache(sessionmaker, clock=clock)
    yield cache
    await cache.stop()


@pytest.fixture
async def reader(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, writer: ResponseCache
) -> AsyncIterator[ResponseCache]:
    """This process's cache, started (writer loop and index), with OLD stored before."""
    await stored(writer, OLD)
    cache = ResponseCache(sessionmaker, clock=clock)
    cache.start()
    await eventually(lambda: cache.index.complete)
    yield cache
    await cache.stop()


async def test_a_miss_nobody_stored_does_not_reach_postgres(
    reader: ResponseCache, statements: Statements
) -> None:
    before = statements.count
    assert await reader.get(NEVER) is None
    assert statements.count == before


async def test_an_entry_stored_before_the_start_is_found(
    reader: ResponseCache, statements: Statements
) -> None:
    before = statements.count
    hit = await reader.get(OLD)
    assert hit is not None
    assert hit.output == OUTPUT
    assert statements.count > before  # it was looked up, not skipped


async def test_another_process_store_reaches_the_index_by_notify(
    reader: ResponseCache, writer: ResponseCache
) -> None:
    assert not reader.index.may_hold(NEW)
    await stored(writer, NEW)
    await eventually(lambda: reader.index.may_hold(NEW))
    hit = await reader.get(NEW)
    assert hit is not None
    assert hit.output == OUTPUT


async def test_until_loaded_every_miss_asks_postgres(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, statements: Statements
) -> None:
    cache = ResponseCache(sessionmaker, clock=clock)  # not started: no index yet
    before = statements.count
    assert await cache.get(NEVER) is None
    assert statements.count == before + 1


async def test_an_index_over_its_size_gives_up(
    sessionmaker: async_sessionmaker[AsyncSession], writer: ResponseCache
) -> None:
    await stored(writer, OLD)
    await stored(writer, NEW)
    index = KeyIndex(conninfo_of(sessionmaker), max_keys=1)
    index.start()
    try:
        await eventually(lambda: index.rebuilds >= 1)
        assert not index.complete
        assert index.may_hold(NEVER)  # "maybe": the lookup goes to Postgres
    finally:
        await index.stop()


async def test_the_index_recovers_when_its_connection_is_killed(
    reader: ResponseCache, writer: ResponseCache, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        killed = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query = 'LISTEN specloom_cache_keys'"
            )
        )
    assert killed == 1
    await stored(writer, NEW)
    await eventually(lambda: reader.index.complete and reader.index.may_hold(NEW))
    assert not reader.index.may_hold(NEVER)


def test_notify_payloads_stay_under_the_postgres_limit() -> None:
    keys = [f"{i:064x}" for i in range(1000)]
    chunks = payloads(keys)
    assert all(len(chunk.encode()) < 8000 for chunk in chunks)
    assert [p for chunk in chunks for p in chunk.split(",")] == [k[:16] for k in keys]
