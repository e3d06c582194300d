"""The response cache on a real Postgres: keys, policy, LRU, TTL, sharing between processes
(two `ResponseCache`s on one database stand for two server processes) and single flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.compiler.document import InvalidDocument, content_hash, parse_document
from app.core.clock import ManualClock
from app.core.database import sync_conninfo
from app.core.errors import UpstreamInvalidOutput
from app.core.reads import FastReads
from app.core.setting_groups import CacheSettings
from app.executions.record import ExecutionRecord, finish_record, start_record
from app.models.resilience import ResponseCacheEntry
from app.serving.cache import (
    CacheHit,
    CachePolicy,
    ResponseCache,
    cache_key,
    cache_policy,
    wants_fresh,
)
from app.serving.cached_call import serve_cached
from app.serving.call import cached_result
from app.serving.live import AgentVersion, agent_version
from app.serving.result import CallResult
from tests.components import Statements
from tests.factories import make_document

OUTPUT = {"team": "billing", "priority": "normal", "summary": "Double charge"}
INPUT = {"subject": "Refund", "body": "I was charged twice"}


@pytest.fixture
async def cache(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> AsyncIterator[ResponseCache]:
    cache = ResponseCache(
        sessionmaker, clock=clock, config=CacheSettings(max_entries=100, ttl_s=60)
    )
    yield cache
    await cache.stop()  # closes its writer connection


def agent(**model: Any) -> AgentVersion:
    document = make_document(model=model) if model else make_document()
    if not model:
        del document["model"]
    digest = content_hash(parse_document(document))
    return agent_version(document["name"], 1, document, digest)


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(ResponseCacheEntry))).one()[
            0
        ]


async def put(cache: ResponseCache, key: str, ttl_s: float | None = None) -> None:
    await cache.put(key, agent="ticket-triage", version=1, output=OUTPUT, model="m", ttl_s=ttl_s)


# --- keys and policy -----------------------------------------------------------------------


def test_key_is_canonical_and_covers_hash_input_and_params() -> None:
    params = {"models": ["fast"], "temperature": 0, "max_tokens": None}
    key = cache_key("h1", {"a": 1, "b": [1, 2]}, params)
    assert len(key) == 64
    assert key == cache_key("h1", {"b": [1, 2], "a": 1}, dict(reversed(params.items())))
    assert key != cache_key("h2", {"a": 1, "b": [1, 2]}, params)
    assert key != cache_key("h1", {"a": 1, "b": [2, 1]}, params)
    assert key != cache_key("h1", {"a": 1, "b": [1, 2]}, {**params, "models": ["smart"]})
    assert key != cache_key("h1", {"a": 1, "b": [1, 2]}, {**params, "max_tokens": 10})


@dataclass(frozen=True)
class PolicyCase:
    name: str
    model: dict[str, Any]
    cached: bool
    ttl_s: float = 60


POLICY_CASES = [
    PolicyCase("temperature 0", {"name": "fast", "temperature": 0}, cached=True),
    PolicyCase("temperature 0.7", {"name": "fast", "temperature": 0.7}, cached=False),
    PolicyCase("temperature unset", {"name": "fast"}, cached=False),
    PolicyCase("no model section", {}, cached=False),
    PolicyCase("forced on", {"temperature": 0.7, "cache": True}, cached=True),
    PolicyCase("forced off", {"temperature": 0, "cache": False}, cached=False),
    PolicyCase("own ttl", {"temperature": 0, "cache_ttl_s": 5}, cached=True, ttl_s=5),
]


@pytest.mark.parametrize("case", POLICY_CASES, ids=lambda c: c.name)
def test_policy(case: PolicyCase) -> None:
    policy = cache_policy(agent(**case.model), default_model="fast", default_ttl_s=60)
    assert (policy is not None) == case.cached
    if policy is not None:
        assert policy.ttl_s == case.ttl_s


def test_policy_params_name_the_route_and_sampling() -> None:
    spec = agent(name="fast", fallbacks=["smart", "fast"], temperature=0, max_tokens=99)
    policy = cache_policy(spec, default_model="x", default_ttl_s=60)
    assert policy is not None
    assert policy.params == {
        "models": ["fast", "smart"],
        "temperature": 0,
        "max_tokens": 99,
        "offline": False,
    }
    unnamed = cache_policy(agent(temperature=0), default_model="smart", default_ttl_s=60)
    assert unnamed is not None
    assert unnamed.params["models"] == ["smart"]


def test_documents_bound_the_cache_ttl() -> None:
    for ttl in (0, 10**9):
        with pytest.raises(InvalidDocument, match="cache_ttl_s"):
            parse_document(make_document(model={"name": "fast", "cache_ttl_s": ttl}))


@pytest.mark.parametrize(
    ("header", "fresh"),
    [
        (None, False),
        ("", False),
        ("max-age=0", False),
        ("no-cache", True),
        ("No-Cache", True),
        ("max-age=0, no-cache", True),
        ('no-cache="set-cookie"', True),
        ("no-cache-please", False),
    ],
)
def test_no_cache_directive(header: str | None, fresh: bool) -> None:
    assert wants_fresh(header) is fresh


# --- the two levels ------------------------------------------------------------------------


async def test_lru_hit_needs_no_database(cache: ResponseCache, statements: Statements) -> None:
    assert await cache.get("k") is None
    await put(cache, "k")
    before = statements.count
    hit = await cache.get("k")
    assert hit is not None
    assert (hit.output, hit.model, hit.agent, hit.version) == (OUTPUT, "m", "ticket-triage", 1)
    assert statements.count == before


async def test_another_process_sees_a_put_after_the_flush(
    cache: ResponseCache,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    statements: Statements,
) -> None:
    other = ResponseCache(sessionmaker, clock=clock, config=CacheSettings(ttl_s=60))
    await put(cache, "k")
    assert await other.get("k") is None  # still only in the first process's memory
    await cache.flush()
    hit = await other.get("k")
    assert hit is not None
    assert hit.output == OUTPUT
    before = statements.count
    assert await other.get("k") is not None  # the Postgres hit refilled its LRU
    assert statements.count == before


async def test_a_newer_put_overwrites_the_row(
    cache: ResponseCache, sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await put(cache, "k")
    await cache.flush()
    await cache.put("k", agent="ticket-triage", version=2, output={"x": 1}, model="n")
    await cache.flush()
    hit = await ResponseCache(sessionmaker, clock=clock).get("k")
    assert hit is not None
    assert (hit.version, hit.output, hit.model) == (2, {"x": 1}, "n")
    assert await rows(sessionmaker) == 1


async def test_entries_expire_in_memory_and_in_postgres(
    cache: ResponseCache, sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await put(cache, "default")  # 60 s
    await put(cache, "short", ttl_s=10)
    await cache.flush()
    other = ResponseCache(sessionmaker, clock=clock)
    clock.advance(11)
    assert await cache.get("short") is None
    assert await other.get("short") is None
    assert await cache.get("default") is not None
    assert await other.get("default") is not None
    clock.advance(50)
    assert await cache.get("default") is None
    assert await ResponseCache(sessionmaker, clock=clock).get("default") is None
    assert await other.get("default") is None  # its LRU copy kept the row's expiry


async def test_purge_deletes_only_expired_rows(
    cache: ResponseCache, sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await put(cache, "short", ttl_s=10)
    await put(cache, "long", ttl_s=100)
    await cache.flush()
    assert await cache.purge() == 0
    clock.advance(11)
    assert await cache.purge() == 1
    assert await rows(sessionmaker) == 1


async def test_lru_keeps_the_most_recently_used(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    small = ResponseCache(sessionmaker, clock=clock, config=CacheSettings(max_entries=2))
    await put(small, "a")
    await put(small, "b")
    assert small.peek("a") is not None  # a is now more recent than b
    await put(small, "c")
    assert small.peek("b") is None
    assert small.peek("a") is not None
    assert small.peek("c") is not None


async def test_background_writer_shares_puts_and_drains_on_stop(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    writer = ResponseCache(sessionmaker, clock=clock, flush_interval_s=0.01)
    writer.start()
    await put(writer, "soon")
    other = ResponseCache(sessionmaker, clock=clock)
    for _ in range(100):
        if await other.get("soon") is not None:
            break
        await asyncio.sleep(0.01)
    assert await other.get("soon") is not None
    slow = ResponseCache(sessionmaker, clock=clock, flush_interval_s=3600)
    slow.start()
    await put(slow, "at-stop")
    await slow.stop()
    await writer.stop()
    assert await ResponseCache(sessionmaker, clock=clock).get("at-stop") is not None


async def test_identical_lookups_make_one_round_trip(
    cache: ResponseCache, statements: Statements
) -> None:
    before = statements.count
    found = await asyncio.gather(*(cache.get("missing") for _ in range(20)))
    assert found == [None] * 20
    assert statements.count - before == 1


# --- single flight -------------------------------------------------------------------------


async def test_single_flight_runs_once_for_concurrent_callers(cache: ResponseCache) -> None:
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return f"result {calls}"

    results = await asyncio.gather(*(cache.single_flight("k", work) for _ in range(20)))
    assert calls == 1
    assert {r for r, _ in results} == {"result 1"}
    assert sum(ran for _, ran in results) == 1
    assert (await cache.single_flight("k", work))[0] == "result 2"  # a new flight afterwards


async def test_single_flight_shares_a_failure_and_does_not_get_stuck(cache: ResponseCache) -> None:
    calls = 0

    async def fail() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("boom")

    results = await asyncio.gather(
        *(cache.single_flight("k", fail) for _ in range(5)), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)

    async def ok() -> str:
        return "fine"

    assert await cache.single_flight("k", ok) == ("fine", True)


async def test_a_caller_going_away_does_not_cancel_the_shared_call(cache: ResponseCache) -> None:
    async def work() -> str:
        await asyncio.sleep(0.05)
        return "done"

    first = asyncio.create_task(cache.single_flight("k", work))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.single_flight("k", work))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == ("done", False)
    with pytest.raises(asyncio.CancelledError):
        await first


# --- serving through the cache -------------------------------------------------------------


@dataclass
class Runs:
    """A stand-in for `execute`: counts calls, answers with `output` or a problem."""

    spec: AgentVersion
    output: dict[str, Any] | None = None
    calls: int = 0

    async def __call__(self, record: ExecutionRecord) -> CallResult:
        self.calls += 1
        await asyncio.sleep(0.05)
        record.model = "fake-fast"
        if self.output is None:
            return CallResult(record, None, UpstreamInvalidOutput("the models gave no JSON object"))
        return CallResult(record, self.output, None)


async def serve(
    cache: ResponseCache,
    spec: AgentVersion,
    payload: dict[str, Any],
    policy: CachePolicy,
    run: Runs,
    *,
    request_id: str | None = None,
    fresh: bool = False,
) -> CallResult:
    """What `app.serving.call` does around the cache: its own record, finished."""
    record = start_record(spec.name, spec.version, payload, request_id=request_id, source="api")
    outcome = await serve_cached(cache, spec, payload, policy, partial(run, record), fresh=fresh)
    result = cached_result(record, outcome)
    problem = result.problem.problem(request_id) if result.problem is not None else None
    finish_record(record, output=result.output, error=problem, latency_ms=0.0)
    return result


async def test_serve_gives_each_request_its_own_record(cache: ResponseCache) -> None:
    spec = agent(temperature=0)
    policy = CachePolicy(params={}, ttl_s=60)
    run = Runs(spec, OUTPUT)
    results = await asyncio.gather(
        *(serve(cache, spec, INPUT, policy, run, request_id=f"r{i}") for i in range(5))
    )
    assert run.calls == 1
    assert len({r.record.id for r in results}) == 5
    assert sorted(r.record.cache for r in results) == ["hit"] * 4 + ["miss"]
    assert all(r.output == OUTPUT and r.record.model == "fake-fast" for r in results)
    shared = [r.record for r in results if r.record.cache == "hit"]
    assert all(r.attempts == [] and r.cost_usd == 0 and r.status == "succeeded" for r in shared)
    again = await serve(cache, spec, INPUT, policy, run)
    assert (run.calls, again.record.cache, again.output) == (1, "hit", OUTPUT)
    fresh = await serve(cache, spec, INPUT, policy, run, fresh=True)
    assert (run.calls, fresh.record.cache) == (2, "miss")


async def test_serve_shares_but_never_stores_a_failure(cache: ResponseCache) -> None:
    spec = agent(temperature=0)
    policy = CachePolicy(params={}, ttl_s=60)
    run = Runs(spec)
    results = await asyncio.gather(*(serve(cache, spec, INPUT, policy, run) for _ in range(3)))
    assert run.calls == 1
    assert all(r.problem is not None and r.record.status == "failed" for r in results)
    assert {r.record.cache for r in results} == {"miss"}
    run.output = OUTPUT
    assert (await serve(cache, spec, INPUT, policy, run)).output == OUTPUT
    assert run.calls == 2


async def test_a_lookup_that_races_a_landing_flight_makes_no_second_call(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    gate = asyncio.Event()

    class SlowPostgres(ResponseCache):
        async def get(self, key: str) -> CacheHit | None:
            await gate.wait()  # the lookup answers "miss" only after another flight landed
            return None

    cache = SlowPostgres(sessionmaker, clock=clock)
    spec = agent(temperature=0)
    policy = CachePolicy(params={}, ttl_s=60)
    run = Runs(spec, OUTPUT)
    waiting = asyncio.create_task(serve(cache, spec, INPUT, policy, run))
    await asyncio.sleep(0)
    await serve(cache, spec, INPUT, policy, run, fresh=True)  # lands, fills the LRU
    gate.set()
    result = await waiting
    assert (run.calls, result.record.cache, result.output) == (1, "hit", OUTPUT)


async def test_the_hot_path_pool_finds_what_the_orm_path_finds(
    cache: ResponseCache,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    database_url: str,
) -> None:
    """Lookups over `FastReads` (one prepared statement) give the ORM path's answers."""
    reads = FastReads(sync_conninfo(database_url))
    reads.open()
    await reads.wait_ready()
    assert reads.ready
    try:
        await put(cache, "long")  # 60 s
        await put(cache, "short", ttl_s=10)
        await cache.flush()
        clock.advance(11)
        for key in ("long", "short", "never-stored"):
            fast = await ResponseCache(sessionmaker, clock=clock, reads=reads).get(key)
            orm = await ResponseCache(sessionmaker, clock=clock).get(key)
            assert fast == orm, key
        hit = await ResponseCache(sessionmaker, clock=clock, reads=reads).get("long")
        assert hit is not None
        assert hit.output == OUTPUT
        assert await ResponseCache(sessionmaker, clock=clock, reads=reads).get("short") is None
    finally:
        await reads.close()
