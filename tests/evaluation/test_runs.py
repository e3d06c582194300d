"""Test runs against a scripted fake model, the publish gate and the comparison of runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest

from tests.evaluation.helpers import BILLING, SALES, case_body, start_run, wait_run
from tests.factories import create_spec, make_document
from tests.fakes.upstream import Delay, FakeUpstream, Status, Valid
from tests.serving.conftest import ApiFactory


@dataclass(frozen=True)
class Flaky:
    min_pass_rate: float
    passed: bool


@pytest.mark.parametrize("case", [Flaky(0.6, True), Flaky(0.9, False)], ids=["0.6", "0.9"])
async def test_flaky_model_against_min_pass_rate(
    api: httpx.AsyncClient, upstream: FakeUpstream, case: Flaky
) -> None:
    await create_spec(api, "triage")
    body = case_body(repeat=6, min_pass_rate=case.min_pass_rate)
    assert (await api.post("/api/specs/triage/cases", json=body)).status_code == 201
    # Right two times in three, as a repeating pattern.
    upstream.script(*[Valid(BILLING), Valid(BILLING), Valid(SALES)] * 2)

    run = await start_run(api, "triage", 1)

    assert run["status"] == ("passed" if case.passed else "failed")
    assert run["passed"] is case.passed
    assert run["progress"] == {"done": 6, "total": 6}
    [outcome] = run["cases"]
    assert outcome["pass_rate"] == pytest.approx(4 / 6)
    assert outcome["passed"] is case.passed
    assert len(outcome["runs"]) == 6
    schema, team = outcome["assertions"]
    assert schema["assertion"] == {"schema": True}
    assert schema["pass_rate"] == 1.0
    assert team["pass_rate"] == pytest.approx(4 / 6)
    assert run["failing_cases"] == ([] if case.passed else ["refund"])
    # Every repeat reached the model: none was served from the response cache.
    assert upstream.calls() == 6


async def test_invalid_output_counts_as_failed(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/cases", json=case_body(repeat=2, min_pass_rate=0.5))
    upstream.script(Status(400), Status(400), Status(400), Status(400))
    run = await start_run(api, "triage", 1)
    assert run["status"] == "failed"
    assert run["cases"][0]["pass_rate"] == 0.0
    attempt = run["cases"][0]["runs"][0]
    assert attempt["error"] is not None
    assert attempt["assertions"][0]["passed"] is False


async def test_attempts_are_recorded_as_executions(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/cases", json=case_body(repeat=2))
    run = await start_run(api, "triage", 1)
    ids = {a["execution_id"] for a in run["cases"][0]["runs"]}
    for execution_id in ids:
        for _ in range(100):
            found = await api.get(f"/v1/executions/{execution_id}")
            if found.status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert found.status_code == 200, found.text
        assert found.json()["version"] == 1


async def test_test_run_records_are_redacted_like_calls(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """A test run's calls take the one call path: its records keep no `x-sensitive` value."""
    secret = "SSN-IN-A-TEST-CASE-555"
    schema = make_document()["input_schema"]
    schema["properties"]["ssn"] = {"type": "string", "x-sensitive": True}
    await create_spec(api, "triage", input_schema=schema)
    body = case_body(input={"subject": "Refund", "body": "charged twice", "ssn": secret})
    assert (await api.post("/api/specs/triage/cases", json=body)).status_code == 201
    run = await start_run(api, "triage", 1)
    execution_id = run["cases"][0]["runs"][0]["execution_id"]
    for _ in range(100):
        found = await api.get(f"/v1/executions/{execution_id}")
        if found.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert found.status_code == 200, found.text
    assert secret not in found.text
    assert found.json()["input"]["subject"] == "Refund"


async def test_progress_while_running(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    upstream.script(*[Delay(0.3, Valid(BILLING))] * 4)
    async with make_api(test_concurrency=1) as api:
        await create_spec(api, "triage")
        await api.post("/api/specs/triage/cases", json=case_body(repeat=4))
        started = await api.post("/api/specs/triage/versions/1/test-runs")
        assert started.status_code == 202
        run_id = started.json()["id"]
        assert started.json()["progress"] == {"done": 0, "total": 4}
        seen = set()
        for _ in range(200):
            body = (await api.get(f"/api/test-runs/{run_id}")).json()
            seen.add((body["status"], body["progress"]["done"]))
            if body["status"] == "passed":
                break
            await asyncio.sleep(0.05)
        assert ("passed", 4) in seen
        assert any(status == "running" and 0 < done < 4 for status, done in seen), seen


async def test_new_version_runs_its_tests_by_itself(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/cases", json=case_body())
    upstream.script(Valid(BILLING))
    run = await wait_run(api, await new_version(api, "triage", 1))
    assert run["version"] == 2
    assert run["status"] == "passed"


async def test_publish_gate(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await create_spec(api, "triage")
    await api.post("/api/specs/triage/cases", json=case_body())

    untested = await api.post("/api/specs/triage/publish", json={"version": 1})
    assert untested.status_code == 409, untested.text

    upstream.script(Valid(SALES))
    failed = await start_run(api, "triage", 1)
    assert failed["passed"] is False
    refused = await api.post("/api/specs/triage/publish", json={"version": 1})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["failing_cases"] == ["refund"]
    assert refused.json()["test_run"] == failed["id"]

    no_reason = await api.post("/api/specs/triage/publish", json={"version": 1, "force": True})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["pointer"] == "/reason"
    blank = await api.post(
        "/api/specs/triage/publish", json={"version": 1, "force": True, "reason": "  "}
    )
    assert blank.status_code == 422

    forced = await api.post(
        "/api/specs/triage/publish", json={"version": 1, "force": True, "reason": "hotfix"}
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["forced"] is True

    upstream.script(Valid(BILLING))
    passed = await start_run(api, "triage", 1)
    assert passed["passed"] is True
    upstream.script(Valid(BILLING))
    v2 = await wait_run(api, await new_version(api, "triage", 1))
    assert v2["passed"] is True
    allowed = await api.post("/api/specs/triage/publish", json={"version": 2})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["forced"] is False
    releases = (await api.get("/api/specs/triage/releases")).json()["items"]
    assert [(r["to_version"], r["forced"]) for r in releases] == [(1, True), (2, False)]


async def test_spec_without_cases_publishes(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    response = await api.post("/api/specs/triage/publish", json={"version": 1})
    assert response.status_code == 200
    audit = (await api.get("/api/audit")).json()["items"]
    [event] = [e for e in audit if e["action"] == "spec.published"]
    assert event["details"]["test_gate"] == "no test cases"


async def test_compare_with_live_version(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(test_concurrency=1) as api:
        await _compare(api, upstream)


async def _compare(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await create_spec(api, "triage")
    for name in ("stable", "breaks", "fixed"):
        await api.post("/api/specs/triage/cases", json=case_body(name))
    # Cases run in name order, one repeat each: breaks, fixed, stable.
    upstream.script(Valid(BILLING), Valid(SALES), Valid(BILLING))
    baseline = await start_run(api, "triage", 1)
    forced = {"version": 1, "force": True, "reason": "baseline"}
    assert (await api.post("/api/specs/triage/publish", json=forced)).status_code == 200

    await api.post("/api/specs/triage/cases", json=case_body("added"))
    upstream.script(Valid(BILLING), Valid(SALES), Valid(BILLING), Valid(BILLING))
    candidate = await wait_run(api, await new_version(api, "triage", 1))

    response = await api.get(f"/api/test-runs/{candidate['id']}/compare")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["baseline_run_id"] == baseline["id"]
    assert body["baseline_version"] == 1
    changes = {c["name"]: c["change"] for c in body["cases"]}
    assert changes == {
        "added": "new",
        "breaks": "regressed",
        "fixed": "improved",
        "stable": "unchanged",
    }


async def test_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/test-runs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


async def new_version(api: httpx.AsyncClient, name: str, base: int) -> str:
    """Save a version on top of `base`; the id of the test run it started by itself."""
    response = await api.post(
        f"/api/specs/{name}/versions",
        json={"document": make_document(name), "base_version": base, "message": "m"},
    )
    assert response.status_code == 201, response.text
    return response.headers["X-Specloom-Test-Run"]


async def test_judge_rubrics_graded_by_the_judge_model(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    rubric = {"path": "/summary", "judge": "Mentions the double charge."}
    upstream.script(Valid(BILLING), Valid(BILLING), model="fake-fast")
    upstream.script(
        Valid({"verdict": "pass", "reasoning": "It names the double charge."}),
        Valid({"verdict": "fail", "reasoning": "Too vague."}),
        model="fake-smart",
    )
    async with make_api(judge_model="smart", test_concurrency=1) as api:
        await create_spec(api, "triage")
        body = case_body(repeat=2, min_pass_rate=0.5, expect=[rubric])
        assert (await api.post("/api/specs/triage/cases", json=body)).status_code == 201
        run = await start_run(api, "triage", 1)
    assert run["passed"] is True
    attempts = run["cases"][0]["runs"]
    verdicts = [a["assertions"][1]["judge"]["verdict"] for a in attempts]
    assert verdicts == ["pass", "fail"]
    assert attempts[1]["assertions"][1]["message"] == "Too vague."
    assert run["cases"][0]["assertions"][1] == {
        "assertion": rubric,
        "pass_rate": 0.5,
        "evaluated": True,
    }
    assert upstream.calls("fake-smart") == 2


async def test_judge_without_a_judge_model_is_not_evaluated(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage")
    body = case_body(expect=[{"path": "/summary", "judge": "Polite."}])
    await api.post("/api/specs/triage/cases", json=body)
    run = await start_run(api, "triage", 1)
    assert run["passed"] is False
    assert run["cases"][0]["assertions"][1]["evaluated"] is False
    assert "not evaluated" in run["cases"][0]["runs"][0]["assertions"][1]["message"]
