"""The ASGI application: wiring only; every feature lives in its own package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.core import health
from app.core.auth import load_admin_key
from app.core.database import database_url, make_engine, make_sessionmaker
from app.core.errors import install_error_handlers
from app.core.logging import RequestIdMiddleware, configure_logging
from app.core.settings import Settings, get_settings
from app.registry.router import router as registry_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources (database, background tasks) start in its lifespan."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url(settings)
        engine = make_engine(url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.admin_key, _ = load_admin_key(settings)
        try:
            yield
        finally:
            await engine.dispose()

    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="Specloom",
        version="0.1.0",
        description="Versioned specs served as typed, validated agent endpoints.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(registry_router)
    return app
