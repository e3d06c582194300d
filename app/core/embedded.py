"""The embedded Postgres: a real server from the `pgserver` package, kept under the data dir."""

from __future__ import annotations

import atexit
import os
import subprocess
from pathlib import Path
from typing import Any

import psutil
import psycopg
import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "specloom"

_servers: dict[Path, Any] = {}


def embedded_database_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded Postgres under `data_dir` and return an async SQLAlchemy URL.

    The server keeps its files in `data_dir/pg`, so data survives restarts; it stops when the
    last live Specloom process using it exits (see `release`).
    """
    # imported lazily: it is only needed without SPECLOOM_DATABASE_URL
    from pgserver.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        server = get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
        # Registered after pgserver's own exit handler, so it runs first (atexit is LIFO):
        # by the time pgserver looks, this process is off its list of users.
        atexit.register(release, pgdata)
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


def release(pgdata: Path) -> None:
    """This process is done with the embedded Postgres in `pgdata`: stop it, unless another
    live Specloom process still uses it.

    pgserver keeps a list of the processes using a server and stops it when the last one
    leaves; a process killed without exiting stays on that list forever, and then nothing
    ever stops the server. Here the list is pruned of processes that are gone (or whose id
    now belongs to something else) first, under pgserver's own lock.
    """
    server = _servers.pop(pgdata, None)
    if server is None or not pgdata.exists():  # already stopped and removed by its owner
        return
    with server._lock:
        users = server.global_process_id_list
        others = [pid for pid in users.get() if pid != os.getpid() and _is_specloom(pid)]
        users.put(others)
        if others:
            log.info("embedded postgres left running", pgdata=str(pgdata), used_by=others)
            return
        pg_ctl(pgdata, "-w", "-m", "fast", "stop", user=server.system_user)
    log.info("embedded postgres stopped", pgdata=str(pgdata))


def _is_specloom(pid: int) -> bool:
    """Whether `pid` is a live Specloom process (the `specloom` command, or `app.cli`)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "specloom" in command or "app.cli" in command


def pg_ctl(pgdata: Path, *args: str, user: str | None = None) -> None:
    """Run the embedded distribution's `pg_ctl` on `pgdata` (as `user`, when running as root)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), *args],
        check=True,
        user=user,
        # Files, not pipes: pg_ctl's server inherits them, and a pipe would never close.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
