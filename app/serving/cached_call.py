"""Answering a call through the response cache: look up, or run once for all identical calls."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.core.errors import ProblemError
from app.serving.cache import CachePolicy, ResponseCache, cache_key
from app.serving.live import AgentVersion
from app.serving.result import CallResult


@dataclass(slots=True)
class Shared:
    """An answer this call did not ask a model for: a cache hit, or an identical call's."""

    output: dict[str, Any] | None
    model: str | None
    offline: bool
    problem: ProblemError | None = None


async def serve_cached(
    cache: ResponseCache,
    agent: AgentVersion,
    payload: Any,
    policy: CachePolicy,
    run: Callable[[], Coroutine[Any, Any, CallResult]],
    *,
    fresh: bool = False,
) -> CallResult | Shared:
    """Answer one call from the cache, or by `run()` shared with identical concurrent calls.

    `fresh` (the caller sent `Cache-Control: no-cache`) skips the lookup but still stores the
    new output. `run()`'s own result comes back when this call ran the models; otherwise
    what it shares with the cache or with the identical call that did.
    """
    key = cache_key(agent.compiled.content_hash, payload, policy.params)
    hit = None if fresh else await cache.get(key)
    if hit is not None:
        return Shared(hit.output, hit.model, policy.offline)

    async def flight() -> CallResult | Shared:
        # A flight that landed while this request was looking in Postgres filled the LRU.
        again = None if fresh else cache.peek(key)
        if again is not None:
            return Shared(again.output, again.model, policy.offline)
        result = await run()
        if result.problem is None and result.output is not None and result.cacheable:
            await cache.put(
                key,
                agent=agent.name,
                version=agent.version,
                output=result.output,
                model=result.record.model,
                ttl_s=policy.ttl_s,
            )
        return result

    # Fresh calls fly apart: joining a flight that answers from the LRU would defeat no-cache.
    outcome, ran_here = await cache.single_flight(("fresh:" if fresh else "") + key, flight)
    if ran_here or isinstance(outcome, Shared):
        return outcome
    record = outcome.record
    return Shared(outcome.output, record.model, record.offline, outcome.problem)
