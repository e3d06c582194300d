"""Attempt timeouts from a deployment's measured speed, and the per-deployment slot gate."""

from __future__ import annotations

import asyncio

import pytest

from app.routing.concurrency import ConcurrencyGates, SlotWaitExpired
from app.routing.speed import ALLOWANCE_S, SLACK, SpeedBook


def test_an_unmeasured_deployment_gets_the_configured_timeout() -> None:
    book = SpeedBook()
    book.record("m", 100, 10, 1.0)
    assert book.timeout_s("m", prompt_tokens=5000, max_tokens=500, floor_s=30.0) == 30.0


def test_a_slow_model_gets_time_for_its_prompt_and_output() -> None:
    """A CPU model reading 50 tokens/s and writing 10 tokens/s: minutes, not 30 s."""
    book = SpeedBook()
    for prompt, output in [(500, 20), (1000, 50), (200, 100), (1500, 10)]:
        book.record("cpu", prompt, output, prompt / 50 + output / 10)
    speed = book.speed("cpu")
    assert speed is not None
    assert speed.read_s_per_token == pytest.approx(1 / 50)
    assert speed.write_s_per_token == pytest.approx(1 / 10)
    timeout = book.timeout_s("cpu", prompt_tokens=2000, max_tokens=300, floor_s=30.0)
    assert timeout == pytest.approx(SLACK * (2000 / 50 + 300 / 10) + ALLOWANCE_S)


def test_a_fast_model_keeps_the_configured_timeout() -> None:
    book = SpeedBook()
    for prompt, output in [(500, 20), (1000, 50), (200, 100)]:
        book.record("hosted", prompt, output, prompt / 5000 + output / 100)
    assert book.timeout_s("hosted", prompt_tokens=2000, max_tokens=300, floor_s=30.0) == 30.0


async def test_calls_beyond_the_limit_wait_for_a_slot() -> None:
    gates = ConcurrencyGates()
    inside, peak = 0, 0

    async def call() -> None:
        nonlocal inside, peak
        async with gates.slot("m", 2, wait_s=5):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(call() for _ in range(6)))
    assert peak == 2


async def test_a_wait_past_the_deadline_is_a_slot_wait_expiry() -> None:
    gates = ConcurrencyGates()
    async with gates.slot("m", 1, wait_s=5):
        with pytest.raises(SlotWaitExpired):
            async with gates.slot("m", 1, wait_s=0.05):
                pass
        assert gates.waiting("m") == 0
