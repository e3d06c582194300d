"""A database outage under load: 503 with Retry-After where the database is needed, calls
that need none keep answering, nothing is a 500 or a reset, and no record is lost."""

from __future__ import annotations

import asyncio
import collections
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pgserver.postgres_server import PostgresServer, get_server

from app.core.database import upgrade_to_head
from app.core.embedded import ensure_database, pg_ctl
from app.core.settings import Settings
from tests.conftest import ADMIN_KEY, admin_client, running_app
from tests.factories import make_document


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A Postgres of this test's own, to stop and start without touching the others'."""
    server = get_server(Path(tempfile.mkdtemp(prefix="specloom-outage-")) / "pg", "delete")
    yield server
    server.cleanup()


def _stop(server: PostgresServer) -> None:
    pg_ctl(server.pgdata, "-w", "-m", "fast", "stop", user=server.system_user)


def _start(server: PostgresServer, socket_dir: str) -> None:
    options = ["-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log)]
    pg_ctl(server.pgdata, "-w", *options, "start", user=server.system_user)


async def test_an_outage_is_503_with_retry_after_and_calls_keep_answering(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    socket_dir = str(own_postgres.get_postmaster_info().socket_dir)
    ensure_database(f"postgresql://postgres@/postgres?host={socket_dir}", "outage")
    url = f"postgresql+psycopg://postgres@/outage?host={socket_dir}"
    upgrade_to_head(url)
    settings = Settings(database_url=url, admin_key=ADMIN_KEY, data_dir=tmp_path / "data")
    seen: collections.Counter[tuple[str, int]] = collections.Counter()
    answered = 0
    async with running_app(settings) as app, admin_client(app) as admin:
        created = await admin.post("/api/specs", json={"document": make_document()})
        assert created.status_code == 201
        await admin.post("/api/specs/ticket-triage/publish", json={"version": 1})
        key = (await admin.post("/api/keys", json={"name": "c", "scopes": ["invoke"]})).json()
        caller = {"Authorization": f"Bearer {key['secret']}"}
        stopping = asyncio.Event()

        async def load(kind: str) -> None:
            nonlocal answered
            i = 0
            while not stopping.is_set():
                i += 1
                if kind == "call":
                    body = {"subject": "s", "body": f"{kind} {i} {time.monotonic()}"}
                    response = await admin.post(
                        "/v1/agents/ticket-triage", json=body, headers=caller
                    )
                    answered += response.status_code == 200
                else:
                    response = await admin.get("/api/specs")
                seen[(kind, response.status_code)] += 1
                if response.status_code != 200:
                    assert response.status_code == 503, response.text
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.headers["retry-after"] == "5"
                    assert response.json()["type"].endswith("/database-unavailable")
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(load(kind)) for kind in ("call", "call", "list")]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(_stop, own_postgres)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(_start, own_postgres, socket_dir)
        for _ in range(200):  # back within seconds of the database
            if (await admin.get("/api/specs")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        stopping.set()
        await asyncio.gather(*tasks)
        assert seen[("list", 503)] > 0  # the outage was seen where the database is needed
        assert seen[("call", 200)] == sum(n for (kind, _), n in seen.items() if kind == "call")
        writer = app.state.runtime.writer
        for _ in range(100):
            if not writer.pending:
                break
            await asyncio.sleep(0.1)
    with psycopg.connect(f"postgresql://postgres@/outage?host={socket_dir}") as conn:
        row = conn.execute("SELECT count(*) FROM execution").fetchone()
    assert row is not None
    assert row[0] == answered  # every answered call recorded, none lost to the outage
