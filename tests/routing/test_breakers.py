"""Circuit breakers on a real Postgres: opening, cooling, one probe, and sharing between
processes (two `CircuitBreakers` on one database stand for two server processes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import ManualClock
from app.core.setting_groups import BreakerConfig
from app.routing.breakers import CircuitBreakers
from tests.components import Statements

DEP = "fast|openai/gpt-4o-mini|"
CONFIG = BreakerConfig(failure_threshold=3, cooldown_s=30.0, probe_timeout_s=10.0, window=4)


def breakers(sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock) -> CircuitBreakers:
    return CircuitBreakers(sessionmaker, clock=clock, config=CONFIG, sync_interval_s=1.0)


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    async with sessionmaker() as session:
        result = await session.execute(
            text("SELECT state, failures, opened_at FROM breaker_state WHERE deployment = :d"),
            {"d": DEP},
        )
        return result.first()


async def open_breaker(cb: CircuitBreakers) -> None:
    for _ in range(CONFIG.failure_threshold):
        await cb.record_failure(DEP, 100.0)


async def test_opens_after_threshold_consecutive_failures(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await cb.record_failure(DEP, 1.0)
    await cb.record_failure(DEP, 1.0)
    await cb.record_success(DEP, 1.0)  # not consecutive any more
    await cb.record_failure(DEP, 1.0)
    await cb.record_failure(DEP, 1.0)
    assert await cb.allow(DEP)
    assert (await stored(sessionmaker)).state == "closed"

    await cb.record_failure(DEP, 1.0)

    assert not await cb.allow(DEP)
    row = await stored(sessionmaker)
    assert (row.state, row.failures, row.opened_at) == ("open", 3, clock.now())


async def test_threshold_of_one_opens_on_the_first_failure(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    config = BreakerConfig(failure_threshold=1)
    cb = CircuitBreakers(sessionmaker, clock=clock, config=config)

    await cb.record_failure(DEP, 1.0)

    assert not await cb.allow(DEP)
    assert (await stored(sessionmaker)).state == "open"


async def test_hot_path_needs_no_database(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, statements: Statements
) -> None:
    cb = breakers(sessionmaker, clock)
    assert await cb.allow(DEP)
    before = statements.count
    for _ in range(50):  # closed: answered from the view, successes write nothing
        assert await cb.allow(DEP)
        await cb.record_success(DEP, 5.0)
    assert statements.count == before

    await open_breaker(cb)
    before = statements.count
    for _ in range(100):  # open and cooling, within the sync interval
        assert not await cb.allow(DEP)
    assert statements.count == before

    for _ in range(20):  # past the sync interval: one refresh per interval, no more
        clock.advance(0.5)
        assert not await cb.allow(DEP)
    assert statements.count - before <= 10


async def test_after_cooldown_exactly_one_probe(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await open_breaker(cb)
    clock.advance(CONFIG.cooldown_s - 0.5)
    assert not await cb.allow(DEP)

    clock.advance(0.5)
    answers = await asyncio.gather(*(cb.allow(DEP) for _ in range(10)))

    assert answers.count(True) == 1
    assert (await stored(sessionmaker)).state == "half_open"
    assert not await cb.allow(DEP)  # the probe is still out
    clock.advance(CONFIG.probe_timeout_s)  # ...and never reported: another may go
    assert await cb.allow(DEP)
    assert not await cb.allow(DEP)


async def test_probe_success_closes(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await open_breaker(cb)
    clock.advance(CONFIG.cooldown_s)
    assert await cb.allow(DEP)

    await cb.record_success(DEP, 80.0)

    row = await stored(sessionmaker)
    assert (row.state, row.failures, row.opened_at) == ("closed", 0, None)
    assert all([await cb.allow(DEP) for _ in range(5)])


async def test_probe_failure_reopens_with_a_fresh_cooldown(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await open_breaker(cb)
    clock.advance(CONFIG.cooldown_s + 5)
    assert await cb.allow(DEP)
    clock.advance(2)

    await cb.record_failure(DEP, 3000.0)

    row = await stored(sessionmaker)
    assert (row.state, row.opened_at) == ("open", clock.now())
    clock.advance(CONFIG.cooldown_s - 1)
    assert not await cb.allow(DEP)
    clock.advance(1)
    assert await cb.allow(DEP)


async def test_late_outcomes_while_open_do_not_move_the_cooldown(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await open_breaker(cb)
    opened = clock.now()
    clock.advance(10)
    # Calls let through before it opened come back now: neither closes nor extends it.
    await cb.record_failure(DEP, 1.0)
    await cb.record_success(DEP, 1.0)

    row = await stored(sessionmaker)
    assert (row.state, row.opened_at) == ("open", opened)
    clock.advance(CONFIG.cooldown_s - 10)
    assert await cb.allow(DEP)


async def test_two_processes_share_state(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    a, b = breakers(sessionmaker, clock), breakers(sessionmaker, clock)
    assert await b.allow(DEP)

    await a.record_failure(DEP, 1.0)
    await b.record_failure(DEP, 1.0)  # consecutive failures add up across processes
    await a.record_failure(DEP, 1.0)

    assert not await a.allow(DEP)
    assert await b.allow(DEP)  # B's view is younger than its sync interval
    clock.advance(1.0)
    assert not await b.allow(DEP)

    clock.advance(CONFIG.cooldown_s)
    processes = [a, b] * 5
    answers = await asyncio.gather(*(cb.allow(DEP) for cb in processes))
    assert answers.count(True) == 1

    prober = processes[answers.index(True)]
    await prober.record_success(DEP, 1.0)  # the probe worked: closed for everyone
    clock.advance(1.0)
    assert await a.allow(DEP)
    assert await b.allow(DEP)


async def test_only_one_process_gets_the_probe(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    a, b = breakers(sessionmaker, clock), breakers(sessionmaker, clock)
    await open_breaker(a)
    assert not await b.allow(DEP)
    clock.advance(CONFIG.cooldown_s)

    assert await b.allow(DEP)
    assert not await a.allow(DEP)
    assert not await b.allow(DEP)

    await b.record_failure(DEP, 1.0)  # B's probe failed: open again with a fresh cooldown
    reopened = clock.now()
    clock.advance(1.0)
    assert not await a.allow(DEP)
    assert (await stored(sessionmaker)).opened_at == reopened


async def test_snapshot_error_rate_and_latency(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    cb = breakers(sessionmaker, clock)
    await cb.record_success(DEP, 999.0)  # pushed out of the window of 4
    await cb.record_success(DEP, 10.0)
    await cb.record_failure(DEP, 40.0)
    await cb.record_success(DEP, 20.0)
    await cb.record_success(DEP, 30.0)
    await cb.record_failure("other", 5.0)

    views = {view.deployment: view for view in cb.snapshot()}

    view = views[DEP]
    assert (view.state, view.failures, view.opened_at) == ("closed", 0, None)
    assert view.recent_error_rate == pytest.approx(0.25)
    assert view.p50_latency_ms == pytest.approx(25.0)
    assert views["other"].failures == 1
    assert views["other"].recent_error_rate == 1.0
