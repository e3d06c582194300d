"""The runtime's services built from settings: one place for the API and the job workers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.ratelimit import RateLimiter
from app.core.reads import FastReads
from app.core.settings import Settings
from app.executions.writer import ExecutionWriter
from app.files.prepare import FileLimits
from app.files.service import Documents
from app.providers.catalog import ModelCatalog, load_catalog
from app.routing.breakers import BreakerConfig, CircuitBreakers
from app.routing.budgets import BudgetGuard
from app.routing.retry import RetryPolicy
from app.routing.services import CallOptions, CallServices
from app.serving.cache import ResponseCache
from app.serving.context import CallContext, Runtime
from app.serving.live import LiveAgents


def catalog_for(settings: Settings) -> ModelCatalog:
    """The models of the settings' models file, taking the lean path unless switched off."""
    return load_catalog(settings.models_file, lean=settings.lean_provider_path)


def standalone_context(settings: Settings) -> CallContext:
    """What calls use in a process without shared state (the CLI's in-process suites):
    no cache, no execution log, files within the settings' limits."""
    services = CallServices(catalog=catalog_for(settings), options=call_options(settings))
    limits = FileLimits(settings.max_file_bytes, settings.max_pdf_pages)
    return CallContext(services, Documents(limits=limits))


def call_options(settings: Settings) -> CallOptions:
    """The knobs of every call, from the settings."""
    return CallOptions(
        default_model=settings.default_model,
        max_reasks=settings.max_reasks,
        attempt_timeout_s=settings.attempt_timeout_s,
        deadline_s=settings.call_deadline_s,
        rate_limit_wait_s=settings.rate_limit_wait_s,
        retry=RetryPolicy(
            max_retries=settings.max_retries,
            base_s=settings.retry_base_s,
            cap_s=settings.retry_cap_s,
        ),
    )


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
    writer = ExecutionWriter(
        sessionmaker,
        flush_interval_s=settings.execution_flush_interval_s,
        batch_size=settings.execution_batch_size,
    )
    cache = ResponseCache(  # response cache (issue 4)
        sessionmaker,
        clock=clock,
        max_entries=settings.cache_max_entries,
        default_ttl_s=settings.cache_ttl_s,
        reads=reads,  # one-round-trip cache lookups (issue 10)
    )
    return Runtime(
        live=live,
        writer=writer,
        services=CallServices(
            catalog=catalog,
            options=call_options(settings),
            clock=clock,
            budgets=BudgetGuard(sessionmaker, clock=clock, refresh_s=settings.budget_refresh_s),
            breakers=CircuitBreakers(
                sessionmaker,
                clock=clock,
                config=BreakerConfig(
                    failure_threshold=settings.breaker_failures,
                    cooldown_s=settings.breaker_cooldown_s,
                ),
            ),
            limiter=RateLimiter(sessionmaker, clock=clock),
        ),
        cache=cache,
        max_deadline_s=settings.max_call_deadline_s,
        documents=Documents(  # documents and images as inputs (issue 11)
            limits=FileLimits(settings.max_file_bytes, settings.max_pdf_pages),
            sessionmaker=sessionmaker,
            keep_files=settings.keep_files,
        ),
    )
