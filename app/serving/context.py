"""The runtime's process-wide parts, created in the app's lifespan and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from app.executions.writer import ExecutionWriter
from app.files.service import Documents
from app.serving.cache import ResponseCache
from app.serving.live import LiveAgents
from app.serving.pipeline import CallServices


@dataclass
class Runtime:
    live: LiveAgents
    writer: ExecutionWriter
    services: CallServices
    cache: ResponseCache  # response cache (issue 4)
    max_deadline_s: float = 300.0
    documents: Documents = field(default_factory=Documents)  # file inputs (issue 11)


async def get_runtime(request: Request) -> Runtime:
    """The runtime of this app (async: a plain `def` would cost a thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
