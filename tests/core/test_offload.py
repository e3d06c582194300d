"""Schema work off the event loop: the loop keeps running, and a caller waits no longer
than the deadline."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core import offload
from app.core.errors import DeadlineExceeded


def _busy(seconds: float) -> str:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # pure-Python CPU work, as jsonschema's is
        sum(range(1000))
    return "done"


async def test_the_loop_keeps_ticking_while_the_work_runs() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    assert await offload.off_loop(_busy, 0.5) == "done"
    task.cancel()
    assert ticks >= 10  # ran inline, the work would have left no tick at all


async def test_a_caller_waits_no_longer_than_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offload, "SCHEMA_WORK_DEADLINE_S", 0.1)
    started = time.perf_counter()
    with pytest.raises(DeadlineExceeded):
        await offload.off_loop(time.sleep, 1.0)
    assert time.perf_counter() - started < 0.5
