"""The jobs API without workers: submission, idempotency, limits, cancellation, visibility."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.jobs.conftest import results, sql, ticket
from tests.security.helpers import make_key
from tests.serving.conftest import live_agent

URL = "/v1/agents/ticket-triage/jobs"


async def test_one_input_makes_a_queued_job_with_its_task(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings
) -> None:
    await live_agent(jobs_api)
    created = await jobs_api.post(URL, json={"input": ticket(1)})
    assert created.status_code == 202, created.text
    job = created.json()
    assert (job["status"], job["total"], job["queued"], job["version"]) == ("queued", 1, 1, 1)
    assert created.headers["location"] == job["status_url"] == f"/v1/jobs/{job['id']}"
    tasks = sql(
        jobs_settings,
        "SELECT task_name, args->>'item_id', status FROM procrastinate_jobs",
    )
    (item_id,) = sql(jobs_settings, "SELECT id::text FROM job_item")[0]
    assert tasks == [("specloom.run_item", item_id, "todo")]  # queued in the same transaction


async def test_same_idempotency_key_returns_the_same_job(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings
) -> None:
    await live_agent(jobs_api)
    body = {"inputs": [ticket(1), ticket(2)], "idempotency_key": "batch-42"}
    first = await jobs_api.post(URL, json=body)
    again = await jobs_api.post(URL, json=body)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await jobs_api.post(URL, json={**body, "idempotency_key": "batch-43"})
    assert other.json()["id"] != first.json()["id"]
    assert sql(jobs_settings, "SELECT count(*) FROM job_item")[0][0] == 4  # not 6
    assert sql(jobs_settings, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 4


async def test_idempotency_keys_are_per_api_key(jobs_api: httpx.AsyncClient) -> None:
    await live_agent(jobs_api)
    key = await make_key(jobs_api, "invoke", name="caller")
    body = {"input": ticket(1), "idempotency_key": "same"}
    mine = await jobs_api.post(URL, json=body)
    theirs = await jobs_api.post(URL, json=body, headers=key.headers)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_batch_over_the_maximum_is_a_413_problem(
    jobs_settings: Settings,
) -> None:
    async with (
        running_app(jobs_settings.model_copy(update={"max_batch_items": 5})) as app,
        admin_client(app) as api,
    ):
        await live_agent(api)
        response = await api.post(URL, json={"inputs": [ticket(n) for n in range(6)]})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/batch-too-large")
        assert "at most 5" in response.json()["detail"]
        assert (await api.post(URL, json={"inputs": [ticket(n) for n in range(5)]})).is_success


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, ""),
        ({"input": {"a": 1}, "inputs": [{"a": 1}]}, ""),
        ({"inputs": []}, ""),
        ({"input": [1]}, "/input"),
        ({"input": {"a": 1}, "version": 0}, "/version"),
        ({"input": {"a": 1}, "idempotency_key": ""}, "/idempotency_key"),
    ],
)
async def test_malformed_job_bodies_are_422_problems(
    jobs_api: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    await live_agent(jobs_api)
    response = await jobs_api.post(URL, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["pointer"].startswith(pointer) for e in response.json()["errors"])


async def test_unknown_agent_and_version_are_404(jobs_api: httpx.AsyncClient) -> None:
    await live_agent(jobs_api)
    assert (await jobs_api.post("/v1/agents/nobody/jobs", json={"input": {}})).status_code == 404
    pinned = await jobs_api.post(URL, json={"input": ticket(1), "version": 9})
    assert pinned.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest",
        "http:///x",
    ],
)
async def test_webhook_urls_to_private_addresses_are_refused(
    jobs_api: httpx.AsyncClient, url: str
) -> None:
    await live_agent(jobs_api)
    response = await jobs_api.post(URL, json={"input": ticket(1), "webhook_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/webhook-url-refused")
    assert response.json()["errors"][0]["pointer"] == "/webhook_url"


async def test_loopback_webhook_refused_unless_its_host_is_allowed(
    jobs_settings: Settings,
) -> None:
    body = {"input": ticket(1), "webhook_url": "http://127.0.0.1:9/hook"}
    async with (
        running_app(jobs_settings.model_copy(update={"webhook_allowed_hosts": []})) as app,
        admin_client(app) as api,
    ):
        await live_agent(api)
        assert (await api.post(URL, json=body)).status_code == 422
    async with running_app(jobs_settings) as app, admin_client(app) as api:  # 127.0.0.1 listed
        assert (await api.post(URL, json=body)).status_code == 202


async def test_cancel_before_any_worker_cancels_every_item(
    jobs_api: httpx.AsyncClient,
) -> None:
    await live_agent(jobs_api)
    job_id = (await jobs_api.post(URL, json={"inputs": [ticket(n) for n in range(5)]})).json()["id"]
    cancelled = await jobs_api.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    job = cancelled.json()
    assert (job["status"], job["cancelled"], job["progress"]) == ("cancelled", 5, 1.0)
    assert job["finished_at"] is not None
    again = await jobs_api.post(f"/v1/jobs/{job_id}/cancel")  # idempotent
    assert again.json()["status"] == "cancelled"
    lines = await results(jobs_api, job_id)
    assert [(line["index"], line["status"]) for line in lines] == [
        (n, "cancelled") for n in range(5)
    ]


async def test_invoke_keys_see_only_their_own_jobs(jobs_api: httpx.AsyncClient) -> None:
    await live_agent(jobs_api)
    await live_agent(jobs_api, "other-agent")
    owner = await make_key(jobs_api, "invoke", name="owner")
    stranger = await make_key(jobs_api, "invoke", name="stranger")
    limited = await make_key(jobs_api, "invoke", name="limited", agents=["other-agent"])
    job_id = (await jobs_api.post(URL, json={"input": ticket(1)}, headers=owner.headers)).json()[
        "id"
    ]
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/results"):
        assert (await jobs_api.get(path, headers=owner.headers)).status_code == 200
        assert (await jobs_api.get(path, headers=stranger.headers)).status_code == 404
        assert (await jobs_api.get(path)).status_code == 200  # admin sees all
    assert (
        await jobs_api.post(f"/v1/jobs/{job_id}/cancel", headers=stranger.headers)
    ).status_code == 404
    refused = await jobs_api.post(URL, json={"input": ticket(1)}, headers=limited.headers)
    assert refused.status_code == 403
    listing = await jobs_api.get("/api/jobs", params={"agent": "ticket-triage"})
    assert [job["id"] for job in listing.json()["items"]] == [job_id]
    assert (await jobs_api.get("/api/jobs", headers=owner.headers)).status_code == 403
    queued = await jobs_api.get("/api/jobs", params={"status": "queued"})
    assert [job["id"] for job in queued.json()["items"]] == [job_id]
    assert (await jobs_api.get("/api/jobs", params={"status": "failed"})).json()["items"] == []


async def test_jobs_routes_are_in_the_openapi_document(jobs_api: httpx.AsyncClient) -> None:
    document = (await jobs_api.get("/openapi.json")).json()
    paths = document["paths"]
    assert "post" in paths["/v1/agents/{name}/jobs"]
    assert "get" in paths["/v1/jobs/{job_id}"]
    assert "post" in paths["/v1/jobs/{job_id}/cancel"]
    assert "delete" not in paths["/v1/jobs/{job_id}"]  # cancelling keeps the job readable
    results_doc = paths["/v1/jobs/{job_id}/results"]["get"]["responses"]["200"]["content"]
    assert "application/jsonl" in results_doc
    assert "413" in paths["/v1/agents/{name}/jobs"]["post"]["responses"]
    assert "get" in paths["/api/jobs"]
