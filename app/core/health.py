"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import SCHEMA_HEAD

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable and its schema is at the newest migration."""
    engine: AsyncEngine = request.app.state.engine
    try:
        async with engine.connect() as conn:
            current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # any database failure means "not ready", and says why
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    if current != SCHEMA_HEAD:
        return JSONResponse(
            {"status": "unavailable", "detail": f"schema at {current}, code expects {SCHEMA_HEAD}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "migration": current})
