"""Webhooks (signed, retried, recorded) and model rate limits shared by two workers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from app.core.settings import Settings
from app.jobs.webhooks import SIGNATURE_HEADER, sign, verify
from tests.fakes.upstream import FakeUpstream
from tests.jobs.conftest import WEBHOOK_SECRET, results, ticket, wait_finished
from tests.jobs.receiver import running_receiver
from tests.jobs.workers import running_workers
from tests.serving.conftest import live_agent

pytestmark = pytest.mark.timeout(600)


def test_signature_verifies_only_the_signed_body_and_a_recent_time() -> None:
    body = b'{"id":"x"}'
    now = int(time.time())
    header = sign("secret", now, body)
    assert header.startswith(f"t={now},v1=")
    assert verify("secret", header, body)
    assert not verify("other", header, body)
    assert not verify("secret", header, body + b" ")
    assert not verify("secret", sign("secret", now - 3600, body), body)  # replayed later
    assert not verify("secret", "v1=abc", body)


async def test_webhook_is_signed_and_retried_after_a_500(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    with (
        running_receiver(500) as receiver,
        running_workers(jobs_settings, tmp_path, count=1) as workers,
    ):
        await live_agent(jobs_api)
        created = await jobs_api.post(
            "/v1/agents/ticket-triage/jobs",
            json={"inputs": [ticket(1), {"subject": "no body"}], "webhook_url": receiver.url},
        )
        job_id = created.json()["id"]
        await wait_finished(jobs_api, job_id, log=workers[0].log())
        deadline = time.monotonic() + 60
        while len(receiver.deliveries) < 2:
            assert time.monotonic() < deadline, workers[0].log()[-3000:]
            await asyncio.sleep(0.1)
        # The worker records a delivery once the receiver has answered: wait for the record.
        job = (await jobs_api.get(f"/v1/jobs/{job_id}")).json()
        while len(job["webhook_deliveries"]) < 2:
            assert time.monotonic() < deadline, workers[0].log()[-3000:]
            await asyncio.sleep(0.1)
            job = (await jobs_api.get(f"/v1/jobs/{job_id}")).json()
    first, second = receiver.deliveries
    assert second.received_at - first.received_at >= 0.9  # retried after a backoff
    for delivery in (first, second):
        assert verify(WEBHOOK_SECRET, delivery.headers[SIGNATURE_HEADER.lower()], delivery.body)
    summary = json.loads(second.body)
    assert summary["id"] == job_id
    assert (summary["status"], summary["succeeded"], summary["failed"]) == (
        "partially_failed",
        1,
        1,
    )
    attempts = [(d["attempt"], d["succeeded"], d["status_code"]) for d in job["webhook_deliveries"]]
    assert attempts == [(1, False, 500), (2, True, 200)]


async def test_rpm_limit_is_shared_by_two_workers(
    jobs_settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    from tests.conftest import admin_client, running_app

    assert jobs_settings.models_file is not None
    models = yaml.safe_load(jobs_settings.models_file.read_text())
    for entry in models["model_list"]:
        entry["litellm_params"]["rpm"] = 20
    limited = tmp_path / "limited-models.yaml"
    limited.write_text(yaml.safe_dump(models))
    settings = jobs_settings.model_copy(update={"models_file": limited})
    with running_workers(settings, tmp_path, count=2, concurrency=10) as workers:
        async with running_app(settings) as app, admin_client(app) as api:
            await live_agent(api)
            created = await api.post(
                "/v1/agents/ticket-triage/jobs", json={"inputs": [ticket(n) for n in range(26)]}
            )
            job_id = created.json()["id"]
            deadline = time.monotonic() + 240
            while upstream.calls() < 20:
                assert time.monotonic() < deadline, [w.log()[-2000:] for w in workers]
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # twenty items wait for the window, on both workers
            assert upstream.calls() == 20
            job = (await api.get(f"/v1/jobs/{job_id}")).json()
            assert (job["succeeded"], job["finished_at"]) == (20, None)
            waiting = (await api.get(f"/v1/jobs/{job_id}")).json()["running"]
            assert waiting == 6  # in flight at the limiter, neither failed nor sent
            # Stop here: the rest would go through a minute later (see the bench for that).
            cancelled = await api.post(f"/v1/jobs/{job_id}/cancel")
            assert cancelled.status_code == 200
            for worker in workers:
                worker.kill()
    assert all("Starting job" in worker.log() for worker in workers)  # both took items
    sent = sorted(request.received_at for request in upstream.requests)
    assert max(sum(1 for t in sent if s <= t < s + 60) for s in sent) <= 20
    lines = await _lines_of(settings, job_id)
    assert sum(1 for line in lines if line["status"] == "succeeded") == 20


async def _lines_of(settings: Settings, job_id: str) -> list[dict[str, object]]:
    from tests.conftest import admin_client, running_app

    async with running_app(settings) as app, admin_client(app) as api:
        return await results(api, job_id)
