"""Answering a call through the response cache: look up, or run once for all identical calls."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from app.core.errors import ProblemError
from app.serving.cache import CachePolicy, ResponseCache, cache_key
from app.serving.live import AgentVersion
from app.serving.pipeline import CallResult, new_record


async def serve_cached(
    cache: ResponseCache,
    agent: AgentVersion,
    payload: Any,
    policy: CachePolicy,
    run: Callable[[], Coroutine[Any, Any, CallResult]],
    *,
    fresh: bool = False,
    request_id: str | None = None,
) -> CallResult:
    """Answer one call from the cache, or by `run()` shared with identical concurrent calls.

    `fresh` (the caller sent `Cache-Control: no-cache`) skips the lookup but still stores the
    new output. The result carries this request's own execution record: a hit, or a share of
    another request's call, is recorded with `cache="hit"`, no attempts and no cost.
    """
    started = cache.clock.monotonic()
    key = cache_key(agent.compiled.content_hash, payload, policy.params)

    def answer(
        output: dict[str, Any] | None,
        model: str | None,
        offline: bool,
        problem: ProblemError | None = None,
    ) -> CallResult:
        record = new_record(agent.name, agent.version, payload, request_id)
        record.status, record.cache = ("failed", "miss") if problem else ("succeeded", "hit")
        record.output, record.model, record.offline = output, model, offline
        record.error = problem.problem(request_id) if problem else None
        record.latency_ms = (cache.clock.monotonic() - started) * 1000
        return CallResult(record, output, problem)

    hit = None if fresh else await cache.get(key)
    if hit is not None:
        return answer(hit.output, hit.model, policy.offline)

    async def flight() -> CallResult:
        # A flight that landed while this request was looking in Postgres filled the LRU.
        again = None if fresh else cache.peek(key)
        if again is not None:
            return answer(again.output, again.model, policy.offline)
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
    result, ran_here = await cache.single_flight(("fresh:" if fresh else "") + key, flight)
    if ran_here:
        return result
    return answer(result.output, result.record.model, result.record.offline, result.problem)
