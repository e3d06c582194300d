"""`GET /metrics`: the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.jobs.stats import read_stats
from app.observability.metrics import exposition

router = APIRouter(tags=["health"])


# No key, like /healthz: scrapers rarely carry bearer tokens. The numbers name agents and
# models but hold no inputs or outputs; keep the port internal if even that is too much.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, in the text exposition format."""
    request.app.state.job_stats = await read_stats(request.app.state.sessionmaker)  # issue 8
    return Response(exposition(request.app.state), media_type=CONTENT_TYPE_LATEST)
