"""The runtime's process-wide parts, created in the app's lifespan and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from app.executions.retention import RetentionLoop
from app.executions.writer import ExecutionWriter
from app.files.service import FileInputs
from app.providers.capabilities import CapabilityBook
from app.routing.services import CallServices
from app.serving.arms import ReleaseView
from app.serving.cache import ResponseCache
from app.serving.guard import RolloutGuard
from app.serving.live import LiveAgents


@dataclass(frozen=True)
class CallContext:
    """What a call needs besides the agent and its input."""

    services: CallServices
    files: FileInputs
    writer: ExecutionWriter | None = None  # None: records are not kept (in-process suites)
    cache: ResponseCache | None = None  # None: nothing is cached


@dataclass
class Runtime:
    """A server's or a job worker's calling parts, and which version of each agent is live."""

    live: LiveAgents
    writer: ExecutionWriter
    services: CallServices
    cache: ResponseCache
    files: FileInputs
    # What local model servers said about themselves (asked at start-up and on demand).
    capabilities: CapabilityBook = field(default_factory=CapabilityBook)
    # Each agent's labels, rollout and shadow, and the guard that ends failing rollouts.
    releases: ReleaseView | None = None
    guard: RolloutGuard | None = None
    # Months of the log made ahead, expired records removed (None: not in this process).
    retention: RetentionLoop | None = None

    def __post_init__(self) -> None:
        self.context = CallContext(self.services, self.files, self.writer, self.cache)


async def get_runtime(request: Request) -> Runtime:
    """The runtime of this app (async: a plain `def` would cost a thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
