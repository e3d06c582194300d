"""`specloom jobs submit FILE.jsonl --agent NAME`: submit a batch and follow it to the end."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.core.settings import Settings

FINAL = ("succeeded", "failed", "cancelled", "partially_failed")


def read_inputs(path: Path) -> list[Any]:
    """One JSON value per non-blank line (ValueError naming the line otherwise)."""
    inputs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                inputs.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
    return inputs


def submit_file(
    settings: Settings,
    path: Path,
    *,
    agent: str,
    url: str | None,
    key: str | None,
    version: int | None,
    poll_s: float = 0.5,
) -> int:
    """Submit `path`'s inputs as one job, show a progress bar until it ends; 0 if all passed."""
    from app.security.auth import load_admin_key

    try:
        inputs = read_inputs(path)
    except (OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    secret = key or load_admin_key(settings)[0]
    body: dict[str, Any] = {"inputs": inputs}
    if version is not None:
        body["version"] = version
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as http:
        created = http.post(f"/v1/agents/{agent}/jobs", json=body, timeout=120)
        if created.status_code != 202:
            print(f"submit failed ({created.status_code}): {created.text}", file=sys.stderr)
            return 1
        job = created.json()
        print(f"job {job['id']}: {job['total']} items")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns) as progress:
            bar = progress.add_task(job["status"], total=job["total"])
            while job["status"] not in FINAL:
                time.sleep(poll_s)
                job = http.get(job["status_url"]).raise_for_status().json()
                done = job["succeeded"] + job["failed"] + job["cancelled"]
                progress.update(bar, completed=done, description=job["status"])
    print(
        f"{job['status']}: {job['succeeded']} succeeded, {job['failed']} failed, "
        f"{job['cancelled']} cancelled, ${job['cost_usd']:.6f}; "
        f"results at {base}{job['results_url']}"
    )
    return 0 if job["status"] == "succeeded" else 2
