"""A lean fake OpenAI-compatible upstream for the benchmarks: a bare ASGI app on uvicorn.

    python -m tests.bench.fast_upstream --port 9001 --latency-ms 0

`POST /v1/chat/completions` waits `--latency-ms` (or the `x-bench-latency-ms` request
header, for scenarios that need another latency on the same server), then answers a valid
ticket-triage object. A last user message containing `REASK-ME` gets a schema-invalid
object the first time (no assistant turn in the conversation yet), so the caller re-asks
once. No framework sits between the socket and the answer: the upstream must be the
cheapest part of every measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

VALID = json.dumps({"team": "billing", "priority": "normal", "summary": "Double charge"})
INVALID = json.dumps({"team": "marketing", "priority": "normal", "summary": "x"})
REASK_MARKER = "REASK-ME"


def answer_for(body: dict[str, Any]) -> str:
    """The content the fake answers `body` with."""
    messages = body.get("messages") or []
    asked_before = any(m.get("role") == "assistant" for m in messages)
    last_user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    if REASK_MARKER in str(last_user.get("content", "")) and not asked_before:
        return INVALID
    return VALID


def completion(body: dict[str, Any], content: str) -> bytes:
    """An OpenAI chat.completion object around `content`."""
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [])
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "bench"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    ).encode()


class FastUpstream:
    """The ASGI app: chat completions only, everything else 404."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            await _send(send, 200, b'{"status":"ok"}')
            return
        if not scope["path"].endswith("/chat/completions"):
            await _send(send, 404, b'{"error":{"message":"not found"}}')
            return
        body = json.loads(b"".join(chunks))
        latency = self.latency_s
        for key, value in scope["headers"]:
            if key == b"x-bench-latency-ms":
                latency = float(value) / 1000
        if latency > 0:
            await asyncio.sleep(latency)
        await _send(send, 200, completion(body, answer_for(body)))


async def _send(send: Send, status: int, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(
        FastUpstream(args.latency_ms / 1000),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
