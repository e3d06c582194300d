"""Helpers of the evaluation tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

FINAL = ("passed", "failed", "error")

BILLING: dict[str, Any] = {"team": "billing", "priority": "normal", "summary": "Double charge"}
SALES: dict[str, Any] = {"team": "sales", "priority": "normal", "summary": "Double charge"}


def case_body(name: str = "refund", **overrides: Any) -> dict[str, Any]:
    """A valid case of the factories' ticket-triage spec."""
    body: dict[str, Any] = {
        "name": name,
        "input": {"subject": "Refund", "body": "I was charged twice"},
        "expect": [{"path": "/team", "equals": "billing"}],
    }
    body.update(overrides)
    return body


async def wait_run(api: httpx.AsyncClient, run_id: str, timeout_s: float = 20) -> dict[str, Any]:
    """Poll a test run until it finishes."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await api.get(f"/api/test-runs/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in FINAL:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.02)


async def start_run(api: httpx.AsyncClient, name: str, version: int) -> dict[str, Any]:
    """Start a run of `version` and wait for its end."""
    response = await api.post(f"/api/specs/{name}/versions/{version}/test-runs")
    assert response.status_code == 202, response.text
    return await wait_run(api, response.json()["id"])
