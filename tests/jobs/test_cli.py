"""`specloom jobs submit FILE.jsonl --agent NAME` against a real server and worker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from app.jobs.cli import read_inputs
from tests.conftest import ADMIN_KEY
from tests.jobs.workers import running_workers, settings_env
from tests.servers import ROOT, running_server
from tests.serving.conftest import live_agent

pytestmark = pytest.mark.timeout(600)


def test_read_inputs_names_the_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_inputs(good) == [{"a": 1}, {"a": 2}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        read_inputs(bad)


async def test_submit_shows_progress_and_ends_with_the_counts(
    jobs_settings: Settings, tmp_path: Path
) -> None:
    env = settings_env(jobs_settings)
    with (
        running_server(env, log_path=tmp_path / "server.log") as server,
        running_workers(jobs_settings, tmp_path, count=1),
    ):
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as api:
            await live_agent(api)
        inputs = tmp_path / "tickets.jsonl"
        lines = [{"subject": f"s{n}", "body": f"b{n}"} for n in range(5)] + [{"subject": "x"}]
        inputs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        run = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable, "-m", "app.cli", "jobs", "submit", str(inputs),
                "--agent", "ticket-triage", "--url", server.base_url, "--key", ADMIN_KEY,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
        )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr  # one input failed validation
    assert "6 items" in run.stdout
    assert "partially_failed: 5 succeeded, 1 failed, 0 cancelled" in run.stdout
    assert "/results" in run.stdout
