"""Breaker and budget views refreshed ahead: the request path finds them fresh and never
waits for Postgres, and what another process writes still shows within the interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import SystemClock
from app.core.setting_groups import BreakerConfig
from app.routing.breakers import CircuitBreakers
from app.routing.budgets import BudgetGuard
from tests.components import Statements

DEP = "fast|openai/gpt-4o-mini|"
INTERVAL_S = 0.2


@asynccontextmanager
async def running(refresh: Callable[[], Coroutine[object, object, object]]) -> AsyncIterator[None]:
    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refreshed_breaker_view_spares_the_request_path_its_read(
    sessionmaker: async_sessionmaker[AsyncSession], statements: Statements
) -> None:
    config = BreakerConfig(failure_threshold=2)
    here = CircuitBreakers(
        sessionmaker, clock=SystemClock(), config=config, sync_interval_s=INTERVAL_S
    )
    other = CircuitBreakers(sessionmaker, clock=SystemClock(), config=config)
    assert await here.allow(DEP)  # the first call reads: the deployment is new to the view
    async with running(here.refresher().run):
        for _ in range(10):  # five intervals: without the refresher, reads every interval
            before = statements.count
            assert await here.allow(DEP)
            assert statements.count == before
            await asyncio.sleep(INTERVAL_S / 2)
        for _ in range(config.failure_threshold):  # another process opens it...
            await other.record_failure(DEP, 1.0)
        await asyncio.sleep(INTERVAL_S)
        before = statements.count
        assert not await here.allow(DEP)  # ...seen within the interval, and without a read
        assert statements.count == before


async def test_a_refreshed_budget_view_spares_the_request_path_its_read(
    sessionmaker: async_sessionmaker[AsyncSession], statements: Statements
) -> None:
    guard = BudgetGuard(sessionmaker, clock=SystemClock(), refresh_s=INTERVAL_S)
    assert await guard.check("ticket-triage") is None  # the first check loads the view
    refresher = guard.refresher()
    assert refresher is not None
    async with running(refresher.run):
        for _ in range(10):
            before = statements.count
            assert await guard.check("ticket-triage") is None
            assert statements.count == before
            await asyncio.sleep(INTERVAL_S / 2)
