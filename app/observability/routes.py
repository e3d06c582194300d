"""`GET /metrics`: the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.observability.metrics import exposition
from app.security.auth import PUBLIC

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


# No key, like /healthz: scrapers rarely carry bearer tokens. The numbers name agents and
# models but hold no inputs or outputs; keep the port internal if even that is too much.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, in the text exposition format."""
    state = request.app.state
    for refresh in state.metrics_refresh:  # gauges read from Postgres, taken at scrape
        await refresh(state)
    return Response(exposition(state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
