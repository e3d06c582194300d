"""The embedded Postgres: a real server from the `pgserver` package, kept under the data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "specloom"

_servers: dict[Path, Any] = {}


def embedded_database_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded Postgres under `data_dir` and return an async SQLAlchemy URL.

    The server keeps its files in `data_dir/pg`, so data survives restarts; it stops when the
    last process using it exits (pgserver counts its users).
    """
    # imported lazily: it is only needed without SPECLOOM_DATABASE_URL
    from pgserver.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        server = get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
        log.info("embedded postgres ready", pgdata=str(pgdata))
    socket_dir = server.get_postmaster_info().socket_dir
    ensure_database(f"postgresql://postgres@/postgres?host={socket_dir}", database)
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


def ensure_database(admin_url: str, database: str, *, template: str | None = None) -> None:
    """Create `database` if it does not exist (optionally as a copy of `template`)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists:
            return
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{database}"{clause}')
