"""Connections and sessions: header deadlines, sessions that end on logout, page headers that
stop framing, and webhooks sent to the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.jobs import webhooks
from tests.conftest import ADMIN_KEY
from tests.security.test_web_matrix import sign_in
from tests.servers import running_server


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_logout_ends_the_session_for_every_copy_of_its_cookie(
    app: FastAPI, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, ADMIN_KEY)
    assert (await browser.get("/ui/keys")).status_code == 200
    copied = dict(browser.cookies)
    page = await browser.get("/ui/keys")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = await browser.post("/ui/logout", data={"csrf_token": token})
    assert out.status_code == 303
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies=copied
    ) as thief:
        stolen = await thief.get("/ui/keys", follow_redirects=False)
    assert stolen.status_code in (302, 303, 307)
    assert "/ui/login" in stolen.headers["location"]


async def test_pages_cannot_be_framed_and_keep_their_urls(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await sign_in(browser, ADMIN_KEY)
    for url in ("/ui/login", "/ui/keys", "/ui"):
        page = await browser.get(url)
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self';" in policy  # no inline scripts on the app's pages
    docs = await browser.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    api = await client.get("/api/specs")
    assert "content-security-policy" not in api.headers  # JSON is not a page


def _open(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_within(sock: socket.socket, seconds: float, trickle: bool) -> float | None:
    """Seconds until the server closed `sock` (None if still open after `seconds`)."""
    started = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - started < seconds:
        if trickle:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return time.monotonic() - started
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def test_slow_headers_and_idle_connections_are_cut_off(tmp_path: Path, database_url: str) -> None:
    env = {
        "SPECLOOM_DATABASE_URL": database_url,
        "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
        "SPECLOOM_DATA_DIR": str(tmp_path / "data"),
        "SPECLOOM_HEADER_TIMEOUT_S": "1",
        "SPECLOOM_KEEP_ALIVE_S": "1",
    }
    with running_server(env, log_path=tmp_path / "serve.log") as server:
        slowloris = _open(server.base_url)
        slowloris.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        silent = _open(server.base_url)
        kept = _open(server.base_url)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in kept.recv(4096)
        try:
            assert _closed_within(slowloris, 5, trickle=True) is not None
            assert _closed_within(silent, 5, trickle=False) is not None
            assert _closed_within(kept, 5, trickle=False) is not None  # idle keep-alive
        finally:
            for sock in (slowloris, silent, kept):
                sock.close()
        assert httpx.get(server.base_url + "/healthz").status_code == 200


@pytest.fixture
def receiver_on_127_0_0_2() -> Iterator[tuple[int, list[str]]]:
    """A webhook receiver listening on 127.0.0.2 only; yields its port and the Host headers
    it saw."""
    hosts: list[str] = []

    async def hook(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return Response(status_code=204)

    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1], hosts
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def test_a_webhook_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, receiver_on_127_0_0_2: tuple[int, list[str]]
) -> None:
    port, hosts = receiver_on_127_0_0_2
    # "hooks.example" is public (127.0.0.2 stands in for a public address) when checked, and
    # an internal address on every later lookup: DNS rebinding.
    answers = iter(["127.0.0.2"])

    async def resolve(self: object, host: str, *args: object, **kwargs: object) -> list[object]:
        address = next(answers, "127.0.0.3") if host == "hooks.example" else "0.0.0.0"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", resolve)
    monkeypatch.setattr(
        webhooks, "is_public", lambda address: address == ipaddress.ip_address("127.0.0.2")
    )
    url = f"http://hooks.example:{port}/hook"
    async with httpx.AsyncClient(timeout=5) as client:
        response = await webhooks.post_checked(client, url, [], content=b"{}")
    assert response.status_code == 204
    assert hosts == [f"hooks.example:{port}"]  # the URL's host, sent to the checked address
