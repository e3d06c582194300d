"""Jobs fixtures: the serving app (fake upstream) with settings fit for short worker tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.serving.conftest import serving_settings, upstream, upstream_server

__all__ = ["serving_settings", "upstream", "upstream_server"]  # fixtures shared with serving

WEBHOOK_SECRET = "whsec-test-secret"


@pytest.fixture
def jobs_settings(serving_settings: Settings) -> Settings:
    return serving_settings.model_copy(
        update={
            "worker_lease_s": 4.0,
            # Worker processes on a loaded machine can be starved for a second or more: a
            # tight attempt timeout would fail items for reasons these tests are not about.
            "attempt_timeout_s": 10.0,
            "call_deadline_s": 30.0,
            "worker_poll_interval_s": 0.2,
            "webhook_allowed_hosts": ["127.0.0.1"],
            "webhook_secret": WEBHOOK_SECRET,
            "webhook_retry_wait_s": 1,
            "webhook_retry_backoff": 0,
            "execution_flush_interval_s": 0.02,
        }
    )


@pytest.fixture
async def jobs_app(jobs_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(jobs_settings) as application:
        yield application


@pytest.fixture
async def jobs_api(jobs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(jobs_app) as http:
        yield http


async def wait_finished(
    api: httpx.AsyncClient, job_id: str, timeout_s: float = 180, log: str = ""
) -> dict[str, Any]:
    """Poll the job until it has finished (or fail, with the workers' logs)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await api.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["finished_at"] is not None:
            return job
        assert time.monotonic() < deadline, f"job not finished in {timeout_s}s: {job}\n{log}"
        await asyncio.sleep(0.2)


async def results(api: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    import json

    response = await api.get(f"/v1/jobs/{job_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jsonl")
    return [json.loads(line) for line in response.text.splitlines()]


def sql(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query run directly on the test's database."""
    assert settings.database_url is not None
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        return list(conn.execute(query, params).fetchall())


def ticket(n: int) -> dict[str, str]:
    """A distinct valid input (distinct, so the response cache never answers it)."""
    return {"subject": f"Ticket {n}", "body": f"Something about item {n} {uuid.uuid4().hex[:6]}"}
