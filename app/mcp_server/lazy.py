"""`/mcp` without the MCP SDK on the start-up path.

Importing the SDK takes seconds of CPU, a large part of a cold start once litellm is off
that path too. The route exists from the start; the first request to `/mcp`
imports the SDK in a thread (the event loop keeps serving) and starts its session manager
in a task of its own, then waits for it. From then on it is `server.py`'s endpoint,
unchanged.
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

from app.security.roles import declare_plain

_SERVER = "app.mcp_server.server"
log = structlog.get_logger(__name__)


class _Loader:
    """Imports and runs the MCP server on first use; stops it with the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.endpoint: ASGIApp | None = None
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin importing and running the server (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._serve(), name="mcp-server")

    async def _serve(self) -> None:
        try:
            module: ModuleType = await asyncio.to_thread(importlib.import_module, _SERVER)
            async with module.running(self.app):
                self.endpoint = module.McpEndpoint()
                self.ready.set()
                await self._stop.wait()
        except Exception as exc:  # /mcp answers 500 saying why; the rest of the app serves
            log.error("the MCP server failed to start", error=repr(exc))
            self.failed = exc
            self.ready.set()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        if not self.ready.is_set():
            self._task.cancel()  # still importing: nothing to shut down
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Make `/mcp` ready to load the MCP server; stop the server with the app."""
    loader = _Loader(app)
    app.state.mcp_loader = loader
    try:
        yield
    finally:
        await loader.stop()


class LazyMcpEndpoint:
    """Waits for the MCP server, then hands the request to its endpoint."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loader: _Loader = scope["app"].state.mcp_loader
        loader.start()
        await loader.ready.wait()
        if loader.endpoint is None:
            raise RuntimeError("the MCP server failed to start") from loader.failed
        await loader.endpoint(scope, receive, send)


def install(app: FastAPI) -> None:
    """Serve MCP at `/mcp`: POST only. Stateless servers offer no GET stream (405) and have
    no sessions to DELETE."""
    endpoint = LazyMcpEndpoint()
    declare_plain(endpoint, "invoke")  # the server checks each request's key itself
    app.router.routes.append(Route("/mcp", endpoint, methods=["POST"], include_in_schema=False))
