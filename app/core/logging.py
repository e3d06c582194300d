"""Structured logs (structlog) with the request id bound for everything a request logs."""

from __future__ import annotations

import logging
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    """Route structlog and stdlib logging through one processor chain."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # Not cached: a cached logger keeps the processors it first saw, so a second app in
        # the same process (or structlog's capture_logs in tests) would not reach it. The
        # cost is a few microseconds per line.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), format="%(message)s")
    # litellm is chatty at INFO; its warnings still come through. At DEBUG, litellm and the
    # openai SDK log whole requests (agent inputs, possibly sensitive fields): never below
    # WARNING, whatever SPECLOOM_LOG_LEVEL says.
    for name in ("LiteLLM", "litellm", "openai", "httpx", "httpcore", "pgserver"):
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestIdMiddleware:
    """Give every request an id (or keep the caller's `X-Request-Id`), bind it, echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:100]
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw_id)]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
