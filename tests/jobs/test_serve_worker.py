"""`specloom serve` alone runs jobs: its in-process worker takes the items; the jobs page
says when no worker has been seen."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.core.settings import Settings
from tests.conftest import ADMIN_KEY, running_app
from tests.jobs.conftest import ticket, wait_finished
from tests.security.test_web_matrix import sign_in
from tests.serving.conftest import live_agent

URL = "/v1/agents/ticket-triage/jobs"


def _clients(app: FastAPI) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    api = httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    return api, httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_serve_alone_runs_a_batch(jobs_settings: Settings) -> None:
    settings = jobs_settings.model_copy(update={"serve_worker": True})
    async with running_app(settings) as app:
        api, browser = _clients(app)
        async with api, browser:
            await live_agent(api)
            created = await api.post(URL, json={"inputs": [ticket(1), ticket(2), ticket(3)]})
            assert created.status_code == 202, created.text
            job = await wait_finished(api, created.json()["id"], timeout_s=60)
            await sign_in(browser, ADMIN_KEY)
            page = await browser.get("/ui/jobs")
    assert job["status"] == "succeeded"
    assert job["succeeded"] == 3
    assert page.status_code == 200
    assert 'id="no-worker"' not in page.text


async def test_the_jobs_page_says_when_no_worker_was_seen(jobs_settings: Settings) -> None:
    async with running_app(jobs_settings) as app:  # serve_worker off, as for tests
        api, browser = _clients(app)
        async with api, browser:
            await live_agent(api)
            created = await api.post(URL, json={"input": ticket(1)})
            assert created.status_code == 202
            await sign_in(browser, ADMIN_KEY)
            page = await browser.get("/ui/jobs")
            job = (await api.get(f"/v1/jobs/{created.json()['id']}")).json()
    assert page.status_code == 200
    assert 'id="no-worker"' in page.text
    assert "No job worker has been seen yet" in page.text
    assert job["status"] == "queued"
