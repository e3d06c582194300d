"""Rate limits on a real Postgres, with a manual clock: rpm and tpm, waiting within a
deadline, and two `RateLimiter`s on one database standing for two server processes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import ManualClock
from app.core.ratelimit import RateLimiter
from app.models.resilience import RateWindow

BUCKET = "fast|openai/gpt-4o-mini|"
SPAN = timedelta(seconds=60)


@pytest.fixture
def limiter(sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock) -> RateLimiter:
    return RateLimiter(sessionmaker, clock=clock)


async def take(limiter: RateLimiter, n: int = 1, *, max_wait_s: float = 0.0) -> list[bool]:
    return [
        await limiter.acquire(BUCKET, rpm=10, tpm=None, tokens=0, max_wait_s=max_wait_s)
        for _ in range(n)
    ]


def most_in_any_span(times: list[datetime]) -> int:
    """The largest number of `times` inside one 60-second span [t, t + 60s)."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + SPAN) for t in ordered), default=0)


async def test_rpm_refuses_the_eleventh_without_waiting(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    assert await take(limiter, 10) == [True] * 10
    assert await take(limiter) == [False]
    assert clock.slept == []


async def test_rpm_waits_within_max_wait_for_a_slot(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    await take(limiter, 10)
    start = clock.now()

    assert await take(limiter, max_wait_s=30) == [False]  # the wait would be too long
    assert clock.slept == []
    assert await take(limiter, max_wait_s=61) == [True]

    # The first ten leave the count only once they are over 60 s old, not a second sooner.
    assert clock.slept == [61.0]
    assert clock.now() - start == timedelta(seconds=61)


async def test_a_full_span_is_conservative_at_the_second_boundary(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    clock.advance(0.9)
    await take(limiter, 10)
    clock.advance(59.1)  # 60.0 s: the first ten are 59.1 s old
    assert await take(limiter) == [False]
    clock.advance(0.9)
    assert await take(limiter) == [False]
    clock.advance(0.1)
    assert await take(limiter) == [True]


async def test_tpm_is_respected(limiter: RateLimiter, clock: ManualClock) -> None:
    async def tokens(n: int) -> bool:
        return await limiter.acquire(BUCKET, rpm=None, tpm=1000, tokens=n, max_wait_s=0)

    assert await tokens(400)
    assert await tokens(400)
    assert not await tokens(300)
    assert await tokens(200)
    assert not await tokens(1)

    await limiter.record_tokens(BUCKET, 100, reserved=400)  # one call used less than reserved
    assert await tokens(300)
    await limiter.record_tokens(BUCKET, 250)  # usage nobody reserved also counts
    assert not await tokens(1)
    clock.advance(61)
    assert await tokens(1000)
    assert not await tokens(1001)  # larger than the limit itself: never worth waiting
    assert clock.slept == []


async def test_tpm_wait_is_until_enough_tokens_have_aged_out(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    assert await limiter.acquire(BUCKET, rpm=100, tpm=1000, tokens=600, max_wait_s=0)
    clock.advance(10)
    assert await limiter.acquire(BUCKET, rpm=100, tpm=1000, tokens=300, max_wait_s=0)

    assert await limiter.acquire(BUCKET, rpm=100, tpm=1000, tokens=500, max_wait_s=120)

    assert clock.slept == [51.0]  # the 600 at t=0 free up at t=61, now is t=10


async def test_no_limits_touch_no_database(engine: AsyncEngine, limiter: RateLimiter) -> None:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    for _ in range(20):
        assert await limiter.acquire(BUCKET, rpm=None, tpm=None, tokens=500, max_wait_s=0)
    assert statements == []
    await take(limiter)
    assert statements  # the listener works


async def test_two_processes_never_exceed_rpm_together(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    a, b = RateLimiter(sessionmaker, clock=clock), RateLimiter(sessionmaker, clock=clock)

    answers = await asyncio.gather(*(take(limiter) for limiter in [a, b] * 20))

    assert sum(answer[0] for answer in answers) == 10
    async with sessionmaker() as session:
        stored = await session.scalar(select(func.sum(RateWindow.requests)))
    assert stored == 10  # refused calls left nothing behind


async def test_no_sixty_second_span_holds_more_than_rpm(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    a, b = RateLimiter(sessionmaker, clock=clock), RateLimiter(sessionmaker, clock=clock)
    sent: list[datetime] = []
    # Bursty on purpose: a quiet start, then both processes pressing every quarter second
    # from late in the first minute; fixed windows would let 20 through around t=60.
    clock.advance(50.3)
    for _ in range(4 * 150):
        for limiter in (a, b):
            if (await take(limiter))[0]:
                sent.append(clock.now())
        clock.advance(0.25)

    assert most_in_any_span(sent) == 10
    assert len(sent) == 30  # and the limit was reached in every minute, not starved


async def test_old_windows_are_cleaned(
    sessionmaker: async_sessionmaker[AsyncSession], limiter: RateLimiter, clock: ManualClock
) -> None:
    await take(limiter, 3)
    clock.advance(1)
    await take(limiter, 2)
    clock.advance(600)

    await take(limiter)

    async with sessionmaker() as session:
        starts = (await session.scalars(select(RateWindow.window_start))).all()
    assert starts == [clock.now()]
