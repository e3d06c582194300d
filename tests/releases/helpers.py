"""Helpers of the release tests: polling for what the writer and the guard do off the path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

INPUT = {"subject": "Refund please", "body": "I was charged twice."}
AGENT = "/v1/agents/ticket-triage"
SPEC = "/api/specs/ticket-triage"


async def until(
    read: Callable[[], Awaitable[dict[str, Any]]],
    ok: Callable[[dict[str, Any]], bool],
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Read again until `ok` holds (the execution writer and the guard work off the path);
    the last reading when time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = await read()
        if ok(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def start_rollout(
    http: httpx.AsyncClient, version: int, percent: float, **guard: Any
) -> dict[str, Any]:
    """Start a rollout of `version` through the API."""
    body = {
        "version": version,
        "percent": percent,
        "guard": {"max_failure_rate": 0.5, "min_calls": 1000, **guard},
    }
    response = await http.post(SPEC + "/rollouts", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def subject(i: int) -> dict[str, str]:
    """The headers of subject number `i`."""
    return {"X-Specloom-Subject": f"user-{i}"}
