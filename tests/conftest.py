"""Shared fixtures: a real embedded Postgres, a fresh migrated database per test, the app,
and a guard that fails any test trying to reach the network beyond loopback."""

from __future__ import annotations

import os
import signal

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
for _provider_key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_API_KEY", "GEMINI_API_KEY"):
    os.environ.pop(_provider_key, None)

import ipaddress
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from fastapi import FastAPI

from app.core.database import upgrade_to_head
from app.core.embedded import ensure_database
from app.core.settings import Settings
from app.main import create_app

pytest_plugins = ["tests.components"]

ADMIN_KEY = "sk-sl-test-admin-key"
TEMPLATE_DB = "specloom_template"

# --- the network guard -------------------------------------------------------------------

_violations: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket: the embedded Postgres
        return True
    host = address[0]
    if host in ("localhost", "testserver", "test"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _allowed(address):
        _violations.append(repr(address))
        raise ConnectionRefusedError(f"test tried to reach {address!r}: only loopback is allowed")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _allowed(address):
        _violations.append(repr(address))
        raise ConnectionRefusedError(f"test tried to reach {address!r}: only loopback is allowed")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign, assignment]


@pytest.fixture(autouse=True)
def no_real_providers() -> Iterator[None]:
    """Fail the test if anything tried to reach beyond loopback (a real model provider)."""
    start = len(_violations)
    yield
    tried = _violations[start:]
    assert not tried, f"the test tried to reach the network: {tried}"


# --- the database ------------------------------------------------------------------------


@dataclass(frozen=True)
class PgServer:
    socket_dir: str

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@/{database}?host={self.socket_dir}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One embedded Postgres for the whole run, with a migrated template database."""
    from pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="specloom-test-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    pg = PgServer(str(server.get_postmaster_info().socket_dir))
    ensure_database(pg.url("postgres", "postgresql"), TEMPLATE_DB)
    upgrade_to_head(pg.url(TEMPLATE_DB))
    yield pg
    server.cleanup()
    _stop_postmaster(root / "pg")


def _stop_postmaster(pgdata: Path) -> None:
    """Stop the run's Postgres if pgserver left it running, as it does when its list of the
    server's users still names another process: no test run leaves a server behind."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        process = psutil.Process(int(pid_file.read_text().split()[0]))
        process.send_signal(signal.SIGINT)  # Postgres' "fast" shutdown
        process.wait(timeout=10)
    except (psutil.Error, ValueError, IndexError):
        return  # already gone


@contextmanager
def fresh_database(pg_server: PgServer) -> Iterator[str]:
    """A new database copied from the migrated template, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = pg_server.url("postgres", "postgresql")
    ensure_database(admin, name, template=TEMPLATE_DB)
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database for one test."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a test app: its own database and data dir, a known admin key."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_key=ADMIN_KEY,
        specs_dir=tmp_path / "specs",
        # Tests that need items run start workers of their own (or turn this on).
        serve_worker=False,
    )


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app built from `settings`, with its lifespan running for the block."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def admin_client(application: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process API client of `application`, authenticated with the admin key."""
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running."""
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An API client authenticated with the admin key."""
    async with admin_client(app) as http:
        yield http
