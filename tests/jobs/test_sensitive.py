"""A finished job item keeps its input redacted where the schema says `x-sensitive`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.jobs.conftest import results, sql, wait_finished
from tests.jobs.workers import running_workers
from tests.serving.conftest import live_agent

pytestmark = pytest.mark.timeout(600)

SECRET = "4111-1111-1111-1111"
ANSWER = {"team": "billing", "priority": "normal", "summary": "card question"}


async def test_a_finished_item_keeps_no_sensitive_input(
    jobs_api: httpx.AsyncClient, jobs_settings: Settings, upstream: FakeUpstream, tmp_path: Path
) -> None:
    input_schema = make_document()["input_schema"]
    input_schema["properties"]["body"]["x-sensitive"] = True
    await live_agent(jobs_api, input_schema=input_schema)
    upstream.script(Valid(ANSWER))
    with running_workers(jobs_settings, tmp_path, count=1) as workers:
        created = await jobs_api.post(
            "/v1/agents/ticket-triage/jobs",
            json={"input": {"subject": "Card", "body": f"my card is {SECRET}"}},
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        await wait_finished(jobs_api, job_id, log=workers[0].log())
    # The model saw the value (it was needed for the call) and the caller gets the output.
    assert SECRET in json.dumps(upstream.requests[0].body)
    assert [r["output"] for r in await results(jobs_api, job_id)] == [ANSWER]
    # Nothing stored keeps it: neither the item nor its execution record.
    (item_input,) = sql(jobs_settings, "SELECT input::text FROM job_item")[0]
    assert SECRET not in item_input
    assert json.loads(item_input) == {"subject": "Card", "body": "[redacted]"}
    (execution_input,) = sql(jobs_settings, "SELECT input::text FROM execution")[0]
    assert SECRET not in execution_input
