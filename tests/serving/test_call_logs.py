"""Structured logs of a /v1 call: every line names the request, execution, agent and version,
and one line per finished call says how it went."""

from __future__ import annotations

import json
from typing import Any

import httpx
import structlog
from structlog.testing import capture_logs

from tests.fakes.upstream import FakeUpstream, Status, Valid
from tests.serving.conftest import ApiFactory, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Charged twice"}


def _capture() -> Any:
    # The configured chain merges the bound context first; the capture must do the same.
    return capture_logs(processors=[structlog.contextvars.merge_contextvars])


async def test_one_line_per_call_with_ids_and_outcome(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "logged-triage")
    upstream.script(Valid(GOOD), model="fake-fast")
    with _capture() as logs:
        response = await api.post(
            "/v1/agents/logged-triage", json=INPUT, headers={"X-Request-Id": "req-42"}
        )
    assert response.status_code == 200, response.text
    finished = [entry for entry in logs if entry["event"] == "call finished"]
    assert len(finished) == 1
    line = finished[0]
    assert line["log_level"] == "info"
    assert line["request_id"] == "req-42"
    assert line["execution_id"] == response.headers["x-specloom-execution-id"]
    assert (line["agent"], line["version"]) == ("logged-triage", 1)
    assert (line["status"], line["outcome"]) == (200, "succeeded")
    assert line["model"] == "openai/fake-fast"
    assert line["cache"] == "miss"
    assert line["cost_usd"] == float(response.headers["x-specloom-cost-usd"])
    assert line["latency_ms"] > 0
    assert line["attempts"] == 1
    # What JSON logs (SPECLOOM_LOG_JSON=true) print for it: one parseable object.
    rendered = structlog.processors.JSONRenderer()(None, "info", dict(line))
    assert isinstance(rendered, str)
    assert json.loads(rendered)["execution_id"] == line["execution_id"]


async def test_lines_logged_inside_the_pipeline_carry_the_execution(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api() as api:
        await live_agent(api, "logged-outage")
        upstream.script(Status(503), model="fake-fast")
        with _capture() as logs:
            response = await api.post("/v1/agents/logged-outage", json=INPUT)
    assert response.status_code == 503
    execution_id = response.headers["x-specloom-execution-id"]
    failed = [entry for entry in logs if entry["event"] == "model attempt failed"]
    assert len(failed) == 1
    assert failed[0]["log_level"] == "warning"
    assert failed[0]["execution_id"] == execution_id
    assert failed[0]["request_id"] == response.headers["x-request-id"]
    assert (failed[0]["agent"], failed[0]["version"]) == ("logged-outage", 1)
    assert (failed[0]["failure"], failed[0]["http_status"]) == ("server_error", 503)
    finished = next(entry for entry in logs if entry["event"] == "call finished")
    assert (finished["status"], finished["outcome"]) == (503, "failed")
    # Nothing bound leaks out of the request into the caller's context.
    assert structlog.contextvars.get_contextvars() == {}
