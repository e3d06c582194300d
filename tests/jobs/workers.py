"""Real `python -m app.cli worker` processes, configured like a test's settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.core.settings import FLAT_NAMES, Settings
from tests.servers import ROOT


def settings_env(settings: Settings) -> dict[str, str]:
    """`settings` as SPECLOOM_ environment variables (for a child process), by flat name."""
    dumped = settings.model_dump(mode="json")
    values = {name: value for name, value in dumped.items() if not isinstance(value, dict)}
    for name, where in FLAT_NAMES.items():
        value = dumped
        for part in where.path:
            value = value[part]
        values[name] = value
    env: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        env[f"SPECLOOM_{name.upper()}"] = text
    return env


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to finish or clean up (the crash case)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(settings: Settings, log_path: Path, *args: str) -> WorkerProcess:
    env = {**os.environ, **settings_env(settings)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(process, log_path)


@contextmanager
def running_workers(
    settings: Settings, directory: Path, count: int = 2, concurrency: int = 10
) -> Iterator[list[WorkerProcess]]:
    """`count` workers for the block; killed afterwards if a graceful stop is not quick."""
    workers = [
        start_worker(settings, directory / f"worker-{n}.log", "--concurrency", str(concurrency))
        for n in range(count)
    ]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()
