"""Per-deployment concurrency: calls beyond a deployment's `max_concurrency` wait here.

A local server answers one request (or a few) at a time and queues the rest; a request
waiting in the server's queue eats its own timeout and, when that runs out, counts against
the breaker although the model is fine. Waiting in Specloom instead means an attempt's
timeout starts when its request is sent, and the wait is bounded by the call's deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


class SlotWaitExpired(Exception):
    """No slot of the deployment came free before the call's deadline."""


@dataclass
class ConcurrencyGates:
    """One semaphore per deployment that has a limit, shared by every call of the process."""

    _gates: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _waiting: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, key: str, limit: int | None, *, wait_s: float) -> AsyncIterator[None]:
        """Hold one of `limit` slots of `key` (no limit: at once); raises `SlotWaitExpired`
        when none comes free within `wait_s`."""
        if limit is None:
            yield
            return
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Semaphore(limit)
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                await gate.acquire()
        except TimeoutError:
            raise SlotWaitExpired(key) from None
        finally:
            self._waiting[key] -= 1
        try:
            yield
        finally:
            gate.release()

    def waiting(self, key: str) -> int:
        """How many calls wait for a slot of `key` now."""
        return self._waiting.get(key, 0)
