"""Batches across real worker processes: results in order, exactly once, even after kill -9."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from tests.fakes.upstream import FakeUpstream
from tests.jobs.conftest import results, sql, ticket, wait_finished
from tests.jobs.workers import WorkerProcess, running_workers
from tests.serving.conftest import live_agent


def _batch(size: int, invalid_every: int) -> tuple[list[object], set[int]]:
    inputs: list[object] = []
    invalid: set[int] = set()
    for n in range(size):
        if n % invalid_every == 3:
            inputs.append({"subject": f"no body {n}"})  # misses the required "body"
            invalid.add(n)
        else:
            inputs.append(ticket(n))
    return inputs, invalid


async def wait_until_both_took_items(
    settings: Settings, workers: list[WorkerProcess], job_id: str, timeout_s: float = 120
) -> None:
    """Wait until each worker runs items (each logs the tasks it starts) and 40 are done."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = sql(
            settings,
            "SELECT count(*) FROM job_item WHERE job_id = %s AND status = 'succeeded'",
            job_id,
        )[0][0]
        if done >= 40 and all("Starting job" in worker.log() for worker in workers):
            return
        assert time.monotonic() < deadline, [worker.log()[-2000:] for worker in workers]
        await asyncio.sleep(0.05)


def _assert_exactly_once(settings: Settings, job_id: str, size: int) -> None:
    items = sql(
        settings,
        "SELECT position, status, execution_id FROM job_item WHERE job_id = %s ORDER BY position",
        job_id,
    )
    assert [row[0] for row in items] == list(range(size))
    assert all(row[1] in ("succeeded", "failed") for row in items), items
    ids = [row[2] for row in items]
    assert None not in ids
    assert len(set(ids)) == size
    executions = sql(
        settings,
        "SELECT e.id FROM execution e JOIN job_item i ON i.execution_id = e.id WHERE i.job_id = %s",
        job_id,
    )
    assert len(executions) == size
    (total,) = sql(settings, "SELECT count(*) FROM execution")[0]
    assert total == size  # no stray record of a superseded attempt


# Worker processes take a while to start on a loaded machine (litellm's import alone).
pytestmark = pytest.mark.timeout(600)


async def test_batch_of_500_across_two_workers(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    with running_workers(jobs_settings, tmp_path, count=2) as workers:  # they start slowly
        await live_agent(jobs_api)
        inputs, invalid = _batch(500, invalid_every=7)
        created = await jobs_api.post("/v1/agents/ticket-triage/jobs", json={"inputs": inputs})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = await wait_finished(jobs_api, job_id, log=workers[0].log())
    assert job["status"] == "partially_failed"
    assert (job["succeeded"], job["failed"]) == (500 - len(invalid), len(invalid))
    assert job["progress"] == 1.0
    lines = await results(jobs_api, job_id)
    assert [line["index"] for line in lines] == list(range(500))
    for line in lines:
        if line["index"] in invalid:
            assert line["status"] == "failed"
            assert line["error"]["type"].endswith("/invalid-agent-input")
            assert line["error"]["errors"][0]["message"]
        else:
            assert line["status"] == "succeeded", line
            assert set(line["output"]) == {"team", "priority", "summary"}
    assert upstream.calls() == 500 - len(invalid)  # invalid inputs never reach a model
    _assert_exactly_once(jobs_settings, job_id, 500)


async def test_kill_9_mid_batch_still_completes_exactly_once(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    await live_agent(jobs_api)
    inputs = [ticket(n) for n in range(200)]
    upstream.latency_s = 0.1  # items in flight when the worker dies
    try:
        with running_workers(jobs_settings, tmp_path, count=2, concurrency=5) as workers:
            created = await jobs_api.post("/v1/agents/ticket-triage/jobs", json={"inputs": inputs})
            job_id = created.json()["id"]
            await wait_until_both_took_items(jobs_settings, workers, job_id)
            in_flight = sql(
                jobs_settings,
                "SELECT count(*) FROM job_item WHERE job_id = %s AND status = 'running'",
                job_id,
            )[0][0]
            workers[0].kill()
            job = await wait_finished(jobs_api, job_id, log=workers[1].log())
    finally:
        upstream.latency_s = 0.0
    assert in_flight > 0
    assert job["status"] == "succeeded"
    assert job["succeeded"] == 200
    _assert_exactly_once(jobs_settings, job_id, 200)
    reclaimed = sql(
        jobs_settings, "SELECT count(*) FROM job_item WHERE job_id = %s AND attempt > 1", job_id
    )[0][0]
    assert reclaimed > 0  # the dead worker's items were taken over, not lost
