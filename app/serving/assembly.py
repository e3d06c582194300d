"""The runtime's services built from settings: one place for the API and the job workers."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.ratelimit import RateLimiter
from app.core.reads import FastReads
from app.core.settings import Settings
from app.executions.retention import RetentionLoop
from app.executions.writer import ExecutionWriter
from app.files.service import FileInputs
from app.providers.catalog import ModelCatalog, load_catalog
from app.routing.breakers import CircuitBreakers
from app.routing.budgets import BudgetGuard
from app.routing.pace import HedgeBudget
from app.routing.services import CallServices
from app.serving.arms import ReleaseView
from app.serving.cache import ResponseCache
from app.serving.context import CallContext, Runtime
from app.serving.guard import RolloutGuard
from app.serving.live import LiveAgents


def catalog_for(settings: Settings) -> ModelCatalog:
    """The models of the settings' models file, taking the lean path unless switched off."""
    return load_catalog(settings.models_file, lean=settings.lean_provider_path)


def standalone_context(settings: Settings) -> CallContext:
    """What calls use in a process without shared state (the CLI's in-process suites):
    no cache, no execution log, files within the settings' limits."""
    services = CallServices(catalog=catalog_for(settings), options=settings.calls)
    return CallContext(services, FileInputs(limits=settings.files))


def build_runtime(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    catalog: ModelCatalog,
    live: LiveAgents,
    clock: Clock,
    reads: FastReads | None = None,
) -> Runtime:
    """A runtime whose shared state (limits, breakers, budgets, cache) lives in Postgres."""
    writer = ExecutionWriter(sessionmaker, config=settings.writer)
    cache = ResponseCache(
        sessionmaker,
        clock=clock,
        config=settings.cache,
        reads=reads,  # one-round-trip cache lookups
    )
    return Runtime(
        live=live,
        writer=writer,
        services=CallServices(
            catalog=catalog,
            options=settings.calls,
            clock=clock,
            budgets=BudgetGuard(
                sessionmaker,
                clock=clock,
                refresh_s=settings.routing.budget_refresh_s,
                unwritten=writer.unwritten_spend,
            ),
            breakers=CircuitBreakers(sessionmaker, clock=clock, config=settings.routing.breakers),
            limiter=RateLimiter(sessionmaker, clock=clock),
            hedges=HedgeBudget(settings.calls.hedge_max_extra),
        ),
        cache=cache,
        files=FileInputs(limits=settings.files, sessionmaker=sessionmaker),
        releases=ReleaseView(sessionmaker, live),
        guard=RolloutGuard(sessionmaker, interval_s=settings.rollout_guard_interval_s),
        retention=RetentionLoop(settings.writer),
    )


def start_runtime(runtime: Runtime, parts: AsyncExitStack, conninfo: str) -> None:
    """Start the runtime's background parts: response cache, execution writer, retention,
    live-version listener. `parts` stops them in the reverse order: the listener, retention,
    then the writer (drained), then the cache."""
    runtime.cache.start()
    parts.push_async_callback(runtime.cache.stop)
    runtime.writer.start()
    parts.push_async_callback(runtime.writer.stop)
    if runtime.retention is not None:
        runtime.retention.start(conninfo)
        parts.push_async_callback(runtime.retention.stop)
    runtime.live.start(conninfo)
    parts.push_async_callback(runtime.live.stop)
    if runtime.guard is not None:
        runtime.guard.loop.start()
        parts.push_async_callback(runtime.guard.loop.stop)
    # Ask local servers what they serve, off the start-up path: a server that is down must
    # not delay the start, and nothing waits for the answer.
    catalog = runtime.services.catalog
    deployments = [d for group in catalog.deployments.values() for d in group]
    if any(d.api_base for d in deployments):
        checking = asyncio.create_task(runtime.capabilities.check(deployments))
        parts.push_async_callback(_cancelled, checking)


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
