"""The embedded Postgres stops with the last live Specloom process that uses it, even after
another one was killed without a chance to say it had left."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import psutil

from tests.servers import start_server, stop_server, wait_ready


def _postgres(data_dir: Path) -> psutil.Process:
    pid = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_last_server_stops_postgres_even_after_a_crashed_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"SPECLOOM_DATA_DIR": str(data_dir), "SPECLOOM_ADMIN_KEY": "k"}
    env["SPECLOOM_DATABASE_URL"] = ""
    crashed = start_server(env, log_path=tmp_path / "crashed.log")
    try:
        wait_ready(crashed)
        postgres = _postgres(data_dir)
        crashed.process.send_signal(signal.SIGKILL)  # no exit handler runs
        crashed.process.wait()
        assert _running(postgres)  # nobody said it was done with it

        first = start_server(env, log_path=tmp_path / "first.log")
        second = start_server(env, log_path=tmp_path / "second.log")
        wait_ready(first)
        wait_ready(second)
        stop_server(first)
        # Another live server still uses it: it keeps running and keeps answering.
        assert _running(postgres)
        specs = httpx.get(second.base_url + "/api/specs", headers={"Authorization": "Bearer k"})
        assert specs.status_code == 200
        stop_server(second)
        postgres.wait(timeout=10)  # the crashed server's stale entry did not keep it up
        assert not _running(postgres)
    finally:
        if (data_dir / "pg" / "postmaster.pid").exists():
            _postgres(data_dir).send_signal(signal.SIGINT)  # never leave one behind
