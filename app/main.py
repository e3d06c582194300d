"""The ASGI application: wiring only; every feature lives in its own package."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from app.core import health
from app.core.clock import SystemClock
from app.core.database import database_url, make_engine, make_sessionmaker, sync_conninfo
from app.core.errors import install_error_handlers
from app.core.limits import BodyLimitMiddleware
from app.core.logging import RequestIdMiddleware, configure_logging
from app.core.ratelimit import RateLimiter
from app.core.reads import FastReads
from app.core.settings import Settings, get_settings
from app.core.tracing import configure_tracing
from app.evaluation.router import router as evaluation_router
from app.evaluation.runner import Evaluator
from app.executions.routes import admin_router as executions_router
from app.executions.routes import router as execution_router
from app.jobs.router import admin_router as jobs_admin_router
from app.jobs.router import router as jobs_router
from app.jobs.stats import JobsCollector, refresh_stats
from app.mcp_server import lazy as mcp_server  # the SDK off the start-up path (issue 10)
from app.observability.router import router as metrics_router
from app.providers import openai_http
from app.providers.llm import warm_up
from app.registry.router import router as registry_router
from app.registry.service import LIVE_CHANGED
from app.releases.routes import router as releases_router
from app.security.auth import load_admin_key
from app.security.router import router as security_router
from app.security.store import KeyStore
from app.serving import openapi
from app.serving.assembly import build_runtime, catalog_for
from app.serving.gauges import RuntimeCollector
from app.serving.live import LiveAgents
from app.serving.ops_routes import router as ops_router
from app.serving.routes import router as runtime_router
from app.web import routes as web_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources (database, background tasks) start in its lifespan."""
    settings = settings or get_settings()
    catalog = catalog_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url(settings)
        engine = make_engine(url)
        live: LiveAgents | None = None
        clock = SystemClock()

        def after_commit(session: Session) -> None:
            # This process sees its own publish at once; others hear the NOTIFY.
            for name in session.info.pop(LIVE_CHANGED, ()):
                if live is not None:
                    live.invalidate(name)

        sessionmaker = make_sessionmaker(engine, on_commit=after_commit)
        live = LiveAgents(sessionmaker)
        reads = FastReads(sync_conninfo(url))  # one-round-trip lookups (issue 10)
        runtime = build_runtime(
            settings, sessionmaker, catalog=catalog, live=live, clock=clock, reads=reads
        )
        writer, cache = runtime.writer, runtime.cache
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.admin_key, _ = load_admin_key(settings)
        app.state.keys = KeyStore(  # API keys (issue 7)
            sessionmaker,
            clock=clock,
            admin_key=app.state.admin_key,
            limiter=RateLimiter(sessionmaker, clock=clock),
            ttl_s=settings.key_cache_ttl_s,
        )
        app.state.runtime = runtime
        app.state.evaluator = Evaluator(  # test runs (issue 5)
            sessionmaker,
            live=live,
            calls=runtime.context,
            concurrency=settings.test_concurrency,
            judge_model=settings.judge_model,
        )
        openapi.install(app, live)
        await warm_up(catalog)  # litellm only if some deployment needs it (issue 10)
        reads.open()
        writer.start()
        cache.start()  # response cache (issue 4)
        live.start(sync_conninfo(url))
        services = runtime.services  # breaker and budget views refreshed ahead (issue 10)
        refreshers = [
            asyncio.create_task(view.keep_fresh(), name=f"refresh {type(view).__name__}")
            for view in (services.breakers, services.budgets)
            if view is not None
        ]
        try:
            async with mcp_server.running(app):  # MCP tools (issue 9)
                yield
        finally:
            for task in refreshers:
                task.cancel()
            await asyncio.gather(*refreshers, return_exceptions=True)
            await app.state.evaluator.stop()  # test runs (issue 5)
            await live.stop()
            await writer.stop()
            await cache.stop()  # response cache (issue 4)
            await engine.dispose()
            await openai_http.close()  # pooled provider connections (issue 10)
            await reads.close()

    configure_logging(settings.log_level, settings.log_json)
    configure_tracing()  # OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (issue 9)
    app = FastAPI(
        title="Specloom",
        version="0.1.0",
        description="Versioned specs served as typed, validated agent endpoints.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics_registry = CollectorRegistry(auto_describe=False)
    app.state.metrics_registry.register(RuntimeCollector(app.state))
    app.state.metrics_registry.register(JobsCollector(app.state))
    app.state.metrics_refresh = [refresh_stats]
    install_error_handlers(app)
    app.add_middleware(  # inside the request id, so its problems carry one (issue 7)
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_string_chars=settings.max_string_chars,
        max_upload_bytes=settings.max_upload_bytes,  # multipart agent calls (issue 11)
    )
    app.add_middleware(RequestIdMiddleware)
    app.include_router(runtime_router)  # first: the hot route is matched without a scan
    app.include_router(health.router)
    app.include_router(metrics_router)  # GET /metrics (issue 9)
    app.include_router(releases_router)
    app.include_router(registry_router)
    app.include_router(evaluation_router)  # test cases and runs (issue 5)
    app.include_router(execution_router)
    app.include_router(executions_router)
    app.include_router(ops_router)
    app.include_router(security_router)
    app.include_router(jobs_router)  # jobs (issue 8)
    app.include_router(jobs_admin_router)
    app.include_router(openapi.router)
    mcp_server.install(app)  # /mcp (issue 9)
    web_routes.install(app)  # the web app under /ui (issue 6)
    return app
