"""A fake OpenAI-compatible model server over real HTTP on loopback, scriptable per test.

    with running_upstream() as fake:
        fake.script(Text("```json\\n{...}\\n```"), Status(429, headers={"Retry-After": "1"}))
        await litellm.acompletion(model="openai/m", api_base=fake.base_url, api_key="sk-fake", ...)
        assert fake.calls() == 1

Each request to `POST /v1/chat/completions` (or `/chat/completions`) takes the next scripted
behaviour for its model, else the next unscoped one, else `default`. The server (uvicorn in a
background thread, its own event loop) handles many concurrent keep-alive connections.

For benchmarks, run it as a process: `python -m tests.fakes.upstream --port N --latency-ms X`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.providers.offline_answer import count_tokens, offline_answer


@dataclass(frozen=True)
class Valid:
    """A successful answer: `content` as JSON, or (None) a schema-valid offline answer."""

    content: dict[str, Any] | None = None


@dataclass(frozen=True)
class Text:
    """A successful answer whose content is this raw string (fenced, broken, prose…);
    `finish_reason="length"` is a reply cut off at `max_tokens`."""

    text: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    """An HTTP error: `code` with an OpenAI-style error body unless `body` is given."""

    code: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Hang:
    """Sleep `seconds` before answering validly: long enough to trip the caller's timeout."""

    seconds: float


@dataclass(frozen=True)
class Delay:
    """Wait `seconds`, then behave as `then`."""

    seconds: float
    then: Behaviour


@dataclass(frozen=True)
class Echo:
    """A model that repeats itself: answers with the request's last assistant message (the
    answer a re-ask says was invalid), or validly when there is none."""


Behaviour = Valid | Text | Status | Hang | Delay | Echo


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it."""

    model: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float  # time.monotonic()
    behaviour: Behaviour
    peer: str = ""  # client "host:port": equal for requests over one keep-alive connection


@dataclass
class FakeUpstream:
    """The scriptable server state; start it with `running_upstream()` (or `serve()`)."""

    latency_s: float = 0.0  # added before every answer: a benchmark's network+model time
    # Requests answered at once (0: no limit); others wait in the server's own queue, as on
    # a local llama.cpp server with one slot.
    slots: int = 0
    in_flight: int = 0  # requests received and not yet answered
    _generation: int = field(default=0, repr=False)  # bumped by reset()
    peak_in_flight: int = 0
    # What `GET /props` answers, as llama.cpp's server does (None: 404, not llama.cpp).
    props: dict[str, Any] | None = None
    # Other servers' own routes (Ollama's /api/show, LM Studio's /api/v0/models …): the JSON
    # each path answers, to GET or POST (absent: 404); and fields added to /v1/models' card.
    native: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    native_requests: list[tuple[str, Any]] = field(default_factory=list, repr=False)
    # `POST /tokenize` as llama.cpp's: this many tokens per whitespace-separated word of the
    # content (None: 404, a server without a tokenizer endpoint).
    tokens_per_word: float | None = None
    default: Behaviour = field(default_factory=Valid)
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    _queues: dict[str | None, deque[Behaviour]] = field(default_factory=dict, repr=False)
    # The server thread and the test thread both touch the queues and the log.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    # Set when the server stops, so hung requests end and shutdown stays quick and clean.
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _slot_gate: asyncio.Semaphore | None = field(default=None, repr=False)

    def script(self, *behaviours: Behaviour, model: str | None = None) -> None:
        """Queue behaviours for the next requests (of `model` only, if given)."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(behaviours)

    def calls(self, model: str | None = None) -> int:
        """How many requests arrived (for `model`, if given)."""
        with self._lock:
            return sum(1 for r in self.requests if model is None or r.model == model)

    def reset(self) -> None:
        """Forget scripts and recorded requests; answer validly by default again."""
        with self._lock:
            self._queues.clear()
            self.requests.clear()
            self.default = Valid()
            self.slots, self.peak_in_flight, self._slot_gate = 0, 0, None
            self.in_flight, self._generation = 0, self._generation + 1
            self.props = None
            self.native, self.card, self.tokens_per_word = {}, {}, None
            self.native_requests.clear()

    def app(self) -> Starlette:
        """The ASGI application serving the chat completions routes."""
        routes = [
            Route(path, self._chat, methods=["POST"])
            for path in ("/v1/chat/completions", "/chat/completions")
        ]
        routes.append(Route("/v1/models", self._models, methods=["GET"]))
        routes.append(Route("/props", self._props, methods=["GET"]))
        routes.append(Route("/api/{rest:path}", self._native, methods=["GET", "POST"]))
        routes.append(Route("/tokenize", self._tokenize, methods=["POST"]))
        return Starlette(routes=routes)

    async def _models(self, request: Request) -> Response:
        card = {"id": "fake", "object": "model", **self.card}
        return JSONResponse({"object": "list", "data": [card]})

    async def _tokenize(self, request: Request) -> Response:
        body = await request.json()
        self.native_requests.append((request.url.path, body))
        if self.tokens_per_word is None:
            return _error(404, "no tokenizer")
        words = len(str(body.get("content", "")).split())
        return JSONResponse({"tokens": [0] * int(words * self.tokens_per_word)})

    async def _native(self, request: Request) -> Response:
        body = await request.json() if request.method == "POST" else None
        self.native_requests.append((request.url.path, body))
        if request.url.path not in self.native:
            return _error(404, "no such route")
        return JSONResponse(self.native[request.url.path])

    async def _props(self, request: Request) -> Response:
        if self.props is None:
            return _error(404, "not llama.cpp")
        return JSONResponse(self.props)

    def _next(
        self, model: str | None, body: dict[str, Any], headers: Mapping[str, str], peer: str
    ) -> Behaviour:
        with self._lock:
            for key in (model, None):
                queue = self._queues.get(key)
                if queue:
                    behaviour = queue.popleft()
                    break
            else:
                behaviour = self.default
            received = time.monotonic()
            record = RecordedRequest(model, body, dict(headers), received, behaviour, peer)
            self.requests.append(record)
        return behaviour

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        model = body.get("model") if isinstance(body.get("model"), str) else None
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        with self._lock:
            # Requests of an earlier test may still hang here: only this test's are counted.
            generation = self._generation
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.slots:
                if self._slot_gate is None:
                    self._slot_gate = asyncio.Semaphore(self.slots)
                async with self._slot_gate:
                    return await self._answer(model, body, request, peer)
            return await self._answer(model, body, request, peer)
        finally:
            with self._lock:
                if generation == self._generation:
                    self.in_flight -= 1

    async def _answer(
        self, model: str | None, body: dict[str, Any], request: Request, peer: str
    ) -> Response:
        behaviour = self._next(model, body, request.headers, peer)
        if self.latency_s:
            await self._sleep(self.latency_s)
        return await self._respond(behaviour, body)

    async def _respond(self, behaviour: Behaviour, body: dict[str, Any]) -> Response:
        if isinstance(behaviour, Delay):
            await self._sleep(behaviour.seconds)
            return await self._respond(behaviour.then, body)
        if isinstance(behaviour, Hang):
            await self._sleep(behaviour.seconds)
            return await self._respond(Valid(), body)
        if isinstance(behaviour, Status):
            payload = behaviour.body or {
                "error": {
                    "message": f"fake upstream answered {behaviour.code}",
                    "type": "fake_upstream_error",
                    "code": behaviour.code,
                }
            }
            return JSONResponse(payload, behaviour.code, headers=behaviour.headers)
        if isinstance(behaviour, Text):
            return self._completion(body, behaviour.text, behaviour.finish_reason)
        if isinstance(behaviour, Echo):
            said = [m.get("content") for m in _messages(body) if m.get("role") == "assistant"]
            if said and isinstance(said[-1], str):
                return self._completion(body, said[-1])
            return await self._respond(Valid(), body)
        if behaviour.content is not None:
            return self._completion(body, json.dumps(behaviour.content))
        answer = offline_answer(_messages(body), body.get("response_format"))
        return self._completion(body, answer)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    def _completion(
        self, body: dict[str, Any], content: str, finish_reason: str = "stop"
    ) -> JSONResponse:
        prompt = sum(count_tokens(json.dumps(m.get("content", ""))) + 3 for m in _messages(body))
        completion = count_tokens(content)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "system_fingerprint": "fake-upstream",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )


def _messages(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, code)


def _server(fake: FakeUpstream, sock: socket.socket) -> uvicorn.Server:
    host, port = sock.getsockname()[:2]
    fake.base_url = f"http://{host}:{port}/v1"
    config = uvicorn.Config(
        fake.app(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,  # a benchmark opens a thousand connections at once
        timeout_keep_alive=30,
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


def _bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def running_upstream(latency_s: float = 0.0) -> Iterator[FakeUpstream]:
    """A started fake on 127.0.0.1 (a free port) for the duration of the block."""
    fake = FakeUpstream(latency_s=latency_s)
    sock = _bound_socket()
    server = _server(fake, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake upstream did not start")
        time.sleep(0.005)
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in the foreground (every request answered validly after the latency)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    fake = FakeUpstream(latency_s=args.latency_ms / 1000)
    sock = _bound_socket(args.port)
    server = _server(fake, sock)
    print(f"fake upstream at {fake.base_url}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
