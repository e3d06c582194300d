"""`/mcp` without the MCP SDK on the start-up path.

Importing the SDK takes seconds, most of a cold start once litellm is off that path too
(issue 10). The route exists from the start; the SDK is imported in a thread while the
server already answers, and its session manager runs in a task of its own. A request to
`/mcp` that arrives before it is ready waits for it; after that, it is `server.py`'s
endpoint, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

import structlog
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

_SERVER = "app.mcp_server.server"
log = structlog.get_logger(__name__)


class _Loader:
    """The server module and its endpoint, once imported and running."""

    def __init__(self) -> None:
        self.endpoint: ASGIApp | None = None
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Import the MCP server off the event loop and run it for the app's lifespan."""
    loader = _Loader()
    app.state.mcp_loader = loader
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            module: ModuleType = await asyncio.to_thread(importlib.import_module, _SERVER)
            async with module.running(app):
                loader.endpoint = module.McpEndpoint()
                loader.ready.set()
                await stop.wait()
        except Exception as exc:  # /mcp answers 500 saying why; the rest of the app serves
            log.error("the MCP server failed to start", error=repr(exc))
            loader.failed = exc
            loader.ready.set()

    task = asyncio.create_task(serve(), name="mcp-server")
    try:
        yield
    finally:
        stop.set()
        if not loader.ready.is_set():
            task.cancel()  # still importing: nothing to shut down
        with contextlib.suppress(asyncio.CancelledError):
            await task


class LazyMcpEndpoint:
    """Waits for the MCP server, then hands the request to its endpoint."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loader: _Loader = scope["app"].state.mcp_loader
        await loader.ready.wait()
        if loader.endpoint is None:
            raise RuntimeError("the MCP server failed to start") from loader.failed
        await loader.endpoint(scope, receive, send)


def install(app: FastAPI) -> None:
    """Serve MCP at `/mcp`: POST only. Stateless servers offer no GET stream (405) and have
    no sessions to DELETE."""
    app.router.routes.append(
        Route("/mcp", LazyMcpEndpoint(), methods=["POST"], include_in_schema=False)
    )
