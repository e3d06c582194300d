"""The ASGI application: wiring only; every feature lives in its own package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from app.core import health
from app.core.clock import SystemClock
from app.core.database import database_url, make_engine, make_sessionmaker, sync_conninfo
from app.core.errors import install_error_handlers
from app.core.limits import BodyLimitMiddleware
from app.core.logging import RequestIdMiddleware, configure_logging
from app.core.page_headers import PageHeadersMiddleware
from app.core.ratelimit import RateLimiter
from app.core.reads import FastReads
from app.core.settings import Settings, get_settings
from app.core.tracing import configure_tracing
from app.evaluation.matrix_routes import router as matrix_router
from app.evaluation.routes import router as evaluation_router
from app.evaluation.runner import Evaluator
from app.executions.dead_letters import router as dead_letters_router
from app.executions.routes import admin_router as executions_router
from app.executions.routes import router as execution_router
from app.executions.routes import usage_router
from app.jobs.routes import admin_router as jobs_admin_router
from app.jobs.routes import router as jobs_router
from app.jobs.stats import JobsCollector, refresh_stats
from app.jobs.worker import in_process_worker
from app.mcp_server import lazy as mcp_server  # the SDK off the start-up path
from app.observability.routes import router as metrics_router
from app.providers import openai_http
from app.providers.catalog import ModelCatalog
from app.providers.warm_up import warm_up
from app.registry.routes import router as registry_router
from app.registry.service import LIVE_CHANGED
from app.releases.approval_routes import router as approvals_router
from app.releases.canary_routes import router as canary_router
from app.releases.routes import router as releases_router
from app.security.auth import PUBLIC, load_admin_key
from app.security.oidc import OidcClient
from app.security.people_routes import router as people_router
from app.security.routes import router as security_router
from app.security.store import KeyStore
from app.serving import openapi
from app.serving.assembly import build_runtime, catalog_for, start_runtime
from app.serving.gauges import RuntimeCollector
from app.serving.live import LiveAgents
from app.serving.ops_routes import router as ops_router
from app.serving.routes import router as agents_router
from app.web import routes as web_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources (database, background tasks) start in its lifespan."""
    settings = settings or get_settings()
    catalog = catalog_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every part stops in the reverse order of its start, however the app ends.
        async with AsyncExitStack() as parts:
            await start_parts(app, parts, settings, catalog)
            yield

    configure_logging(settings.log_level, settings.log_json)
    configure_tracing()  # OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
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
    app.state.oidc = OidcClient.from_settings(settings.web)  # None: no SSO
    app.state.metrics_registry = CollectorRegistry(auto_describe=False)
    app.state.metrics_registry.register(RuntimeCollector(app.state))
    app.state.metrics_registry.register(JobsCollector(app.state))
    app.state.metrics_refresh = [refresh_stats]
    install_error_handlers(app)
    # Inside the request id, so its problems carry one; multipart agent calls included.
    app.add_middleware(BodyLimitMiddleware, limits=settings.bodies)
    app.add_middleware(PageHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(agents_router)  # first: the hot route is matched without a scan
    app.include_router(health.router, dependencies=[PUBLIC])  # core cannot import security
    app.include_router(metrics_router)  # GET /metrics
    app.include_router(releases_router)
    app.include_router(canary_router)
    app.include_router(approvals_router)  # guardrails and release requests
    app.include_router(registry_router)
    app.include_router(evaluation_router)  # test cases and runs
    app.include_router(matrix_router)  # model matrices
    app.include_router(execution_router)
    app.include_router(executions_router)
    app.include_router(usage_router)
    app.include_router(dead_letters_router)
    app.include_router(ops_router)
    app.include_router(security_router)
    app.include_router(people_router)
    app.include_router(jobs_router)
    app.include_router(jobs_admin_router)
    app.include_router(openapi.router)
    mcp_server.install(app)  # /mcp
    web_routes.install(app)  # the web app under /ui
    return app


async def start_parts(
    app: FastAPI, parts: AsyncExitStack, settings: Settings, catalog: ModelCatalog
) -> None:
    """Build the app's parts into `app.state` and start them on `parts`, which stops them
    in reverse: MCP, the job worker, the refreshers, test runs, the live listener, the
    writers (draining),
    the engine, the provider connections and the hot-path reads, in that order."""
    url = database_url(settings)
    reads = FastReads(sync_conninfo(url))  # one-round-trip lookups
    parts.push_async_callback(reads.close)
    parts.push_async_callback(openai_http.close)  # pooled provider connections
    engine = make_engine(url)
    parts.push_async_callback(engine.dispose)
    live: LiveAgents | None = None
    clock = SystemClock()

    def after_commit(session: Session) -> None:
        # This process sees its own publish at once; others hear the NOTIFY.
        for name in session.info.pop(LIVE_CHANGED, ()):
            if live is not None:
                live.invalidate(name)

    sessionmaker = make_sessionmaker(engine, on_commit=after_commit)
    live = LiveAgents(sessionmaker)
    runtime = build_runtime(
        settings, sessionmaker, catalog=catalog, live=live, clock=clock, reads=reads
    )
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.admin_key, _ = load_admin_key(settings)
    app.state.keys = KeyStore(
        sessionmaker,
        clock=clock,
        admin_key=app.state.admin_key,
        limiter=RateLimiter(sessionmaker, clock=clock),
        ttl_s=settings.key_cache_ttl_s,
    )
    app.state.runtime = runtime
    evaluator = app.state.evaluator = Evaluator(
        sessionmaker,
        live=live,
        calls=runtime.context,
        config=settings.evaluation,
    )
    openapi.install(app, live)
    await warm_up(catalog)  # litellm only if some deployment needs it
    reads.open()
    start_runtime(runtime, parts, sync_conninfo(url))
    parts.push_async_callback(evaluator.stop)
    services = runtime.services  # breaker and budget views refreshed ahead
    for view in (services.breakers, services.budgets):
        refresher = view.refresher() if view is not None else None
        if refresher is not None:
            await parts.enter_async_context(refresher)
    if settings.jobs.serve_worker:  # stops before the writers drain: its items are records
        worker = in_process_worker(settings, runtime, sessionmaker, sync_conninfo(url))
        await parts.enter_async_context(worker)
    await parts.enter_async_context(mcp_server.running(app))
