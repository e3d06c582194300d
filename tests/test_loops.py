"""The background loop every writer, refresher and listener runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from app.core.loops import BackgroundLoop, Backoff

TICK = 0.01


class Steps:
    """A step that counts its runs and fails or asks for more as told."""

    def __init__(self, *, fail: int = 0, more: int = 0) -> None:
        self.runs = 0
        self.fail = fail  # the first `fail` runs raise
        self.more = more  # the next `more` successful runs ask to run again at once

    async def __call__(self) -> bool:
        self.runs += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database unwell")
        if self.more:
            self.more -= 1
            return True
        return False


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not become true in time")
        await asyncio.sleep(TICK / 5)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff(0.1, 0.5).delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert Backoff(1.0, 1.0).delay(7) == 1.0
    assert Backoff().delay(100_000) == 5.0  # hours of failures do not overflow


async def test_the_step_runs_every_interval_until_stopped() -> None:
    steps = Steps()
    loop = BackgroundLoop(steps, name="ticker", interval_s=TICK)
    async with loop:
        assert steps.runs == 0  # it waits an interval first
        await until(lambda: steps.runs >= 3)
        assert loop.running
    runs = steps.runs
    await asyncio.sleep(3 * TICK)
    assert steps.runs == runs
    assert not loop.running


async def test_waking_runs_the_step_now_and_without_wait_first_it_runs_at_once() -> None:
    steps = Steps()
    async with BackgroundLoop(steps, name="woken", interval_s=3600) as loop:
        await asyncio.sleep(TICK)
        assert steps.runs == 0
        loop.wake()
        await until(lambda: steps.runs == 1)
    eager = Steps()
    async with BackgroundLoop(eager, name="eager", interval_s=3600, wait_first=False):
        await until(lambda: eager.runs == 1)


async def test_a_step_with_more_to_do_runs_again_at_once() -> None:
    steps = Steps(more=3)
    async with BackgroundLoop(steps, name="batches", interval_s=3600) as loop:
        loop.wake()
        await until(lambda: steps.runs == 4)


async def test_a_failing_step_is_logged_backed_off_and_tried_again() -> None:
    steps = Steps(fail=3)
    slept: list[float] = []
    told: list[None] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    loop = BackgroundLoop(
        steps,
        name="flaky",
        interval_s=3600,
        wait_first=False,
        backoff=Backoff(0.1, 0.3),
        on_error=lambda: told.append(None),
        sleep=sleep,
    )
    with capture_logs() as logs:
        async with loop:
            await until(lambda: steps.runs == 4)
    assert slept == [0.1, 0.2, 0.3]
    assert len(told) == 3
    assert [(e["event"], e["failures"]) for e in logs] == [("flaky failed", n) for n in (1, 2, 3)]


async def test_a_healthy_long_step_resets_the_backoff() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    loop: BackgroundLoop

    async def listen() -> None:
        if len(slept) == 2:
            loop.reset_backoff()  # connected, then lost again
        raise ConnectionError("lost")

    loop = BackgroundLoop(
        listen, name="listener", interval_s=0, wait_first=False, backoff=Backoff(), sleep=sleep
    )
    with capture_logs():
        async with loop:
            await until(lambda: len(slept) >= 4)
    assert slept[:4] == [0.1, 0.2, 0.1, 0.2]


async def test_a_draining_stop_runs_a_last_step() -> None:
    steps = Steps(more=2)
    loop = BackgroundLoop(steps, name="writer", interval_s=3600, drain=True)
    loop.start()
    await asyncio.sleep(TICK)
    await loop.stop()
    assert steps.runs == 3  # woken by the stop, and on until nothing is left


async def test_a_draining_stop_gives_up_after_failures_in_a_row() -> None:
    steps = Steps(fail=100)
    loop = BackgroundLoop(
        steps,
        name="writer",
        interval_s=3600,
        backoff=Backoff(0.0, 0.0),
        drain=True,
        give_up_after=5,
    )
    loop.start()
    with capture_logs():
        await loop.stop()
    assert steps.runs == 5


async def test_stopping_a_loop_never_started_does_nothing() -> None:
    await BackgroundLoop(Steps(), name="idle", interval_s=TICK).stop()
    await BackgroundLoop(Steps(), name="idle", interval_s=TICK, drain=True).stop()


async def test_a_cancelled_caller_stays_cancelled() -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        await asyncio.sleep(3600)

    loop = BackgroundLoop(step, name="slow", interval_s=0, wait_first=False)
    loop.start()
    await started.wait()
    stopping = asyncio.create_task(loop.stop())
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
