"""Load generators for the benchmarks: closed-loop (N callers back to back) and open-loop
(a fixed arrival rate, latency counted from each request's scheduled time so a stalled
server cannot hide its queue: no coordinated omission)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Request:
    """One prepared call: where, what, with which headers."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Samples:
    """Latencies (ms) of the successful calls, and the failures."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.latencies_ms) + self.errors

    def p(self, q: float) -> float:
        """The q-quantile (0..1) of the latencies, nearest rank; NaN when there are none."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.p(0.99)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0


def session(limit: int = 0) -> aiohttp.ClientSession:
    """A pooled client; `limit` 0 means as many connections as requests in flight."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def call(http: aiohttp.ClientSession, request: Request, samples: Samples, t0: float) -> None:
    """Send one request; record its latency from `t0` (or an error)."""
    try:
        async with http.post(request.url, data=request.body, headers=request.headers) as response:
            await response.read()
            samples.statuses[response.status] = samples.statuses.get(response.status, 0) + 1
            if response.status != 200:
                samples.errors += 1
                return
    except (aiohttp.ClientError, TimeoutError):
        samples.errors += 1
        return
    samples.latencies_ms.append((time.perf_counter() - t0) * 1000)


async def closed_loop(
    http: aiohttp.ClientSession,
    make: Callable[[], Request],
    *,
    concurrency: int,
    calls: int,
) -> Samples:
    """`calls` requests from `concurrency` callers, each sending its next as soon as it can."""
    samples = Samples()
    left = calls

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            request = make()
            await call(http, request, samples, time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    samples.wall_s = time.perf_counter() - started
    return samples


async def open_loop(
    http: aiohttp.ClientSession,
    make: Callable[[], Request],
    *,
    rate: float,
    duration_s: float,
) -> Samples:
    """Requests at `rate` per second for `duration_s`, whatever the answers' pace."""
    samples = Samples()
    total = max(1, int(rate * duration_s))
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(http, make(), samples, due)))
    await asyncio.gather(*tasks)
    samples.wall_s = time.perf_counter() - started
    return samples


async def burst(http: aiohttp.ClientSession, make: Callable[[], Request], count: int) -> Samples:
    """`count` requests all sent at once."""
    samples = Samples()
    requests = [make() for _ in range(count)]
    started = time.perf_counter()
    await asyncio.gather(*(call(http, r, samples, started) for r in requests))
    samples.wall_s = time.perf_counter() - started
    return samples
