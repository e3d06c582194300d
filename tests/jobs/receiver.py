"""A webhook receiver on loopback that records what it gets and answers as scripted."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.upstream import _bound_socket


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class Receiver:
    url: str = ""
    answers: deque[int] = field(default_factory=deque)  # status codes, then 200
    deliveries: list[Delivery] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        self.deliveries.append(Delivery(dict(request.headers), await request.body(), time.time()))
        return Response(status_code=self.answers.popleft() if self.answers else 200)


@contextmanager
def running_receiver(*answers: int) -> Iterator[Receiver]:
    receiver = Receiver(answers=deque(answers))
    sock = _bound_socket()
    host, port = sock.getsockname()[:2]
    receiver.url = f"http://{host}:{port}/hook"
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
