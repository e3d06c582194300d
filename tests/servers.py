"""Real `specloom serve` processes on loopback, for behaviour that spans processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(env: dict[str, str], *args: str, log_path: Path) -> ServerProcess:
    """Launch `specloom serve` with `env` on a free port (not waiting for it)."""
    port = free_port()
    # No job worker inside unless a test asks: the tests of jobs start the workers they need.
    full_env = {"SPECLOOM_SERVE_WORKER": "false", **os.environ, **env}
    full_env |= {"SPECLOOM_PORT": str(port), "SPECLOOM_HOST": "127.0.0.1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *args],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(f"http://127.0.0.1:{port}", process, log_path)


def wait_ready(server: ServerProcess, timeout_s: float = 90) -> None:
    """Wait until the server's /readyz answers 200 (or fail with its log)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready after {timeout_s}s:\n{server.log()}")
        time.sleep(0.1)


def stop_server(server: ServerProcess) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it does not end in 20 s."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def running_servers(env: dict[str, str], logs: list[Path]) -> Iterator[list[ServerProcess]]:
    """Several servers with the same `env`, started side by side, stopped after the block."""
    servers = [start_server(env, log_path=log) for log in logs]
    try:
        for server in servers:
            wait_ready(server)
        yield servers
    finally:
        for server in servers:
            stop_server(server)


@contextmanager
def running_server(env: dict[str, str], *args: str, log_path: Path) -> Iterator[ServerProcess]:
    """One `specloom serve`, ready, for the duration of the block."""
    server = start_server(env, *args, log_path=log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        stop_server(server)
