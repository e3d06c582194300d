"""Fixtures for components that talk to Postgres directly (breakers, rate limits, the cache),
loaded for every test directory by the root conftest (`pytest_plugins`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import ManualClock
from app.core.database import make_engine, make_sessionmaker


@dataclass
class Statements:
    """Counts the SQL statements an engine sends."""

    count: int = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
def statements(engine: AsyncEngine) -> Statements:
    counter = Statements()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    return counter


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
