"""Evidence that can fail: the offline model never answers a test from its expectations,
and repeats report how sure they make us (pass^k, a Wilson lower bound to gate on)."""

from __future__ import annotations

import httpx
import pytest

from app.evaluation.verdict import wilson_lower
from tests.evaluation.helpers import BILLING, SALES, case_body, start_run, wait_run
from tests.factories import create_spec, make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import live_agent

TICKET = {"subject": "Refund", "body": "I was charged twice"}
TEAMS = ["billing", "technical", "sales", "security"]


async def test_the_offline_model_does_not_answer_a_test_from_its_expectations(
    client: httpx.AsyncClient,
) -> None:
    """A spec file's test expects a team the offline model does not give for its input: the
    run fails, instead of passing on an answer copied from the test."""
    await create_spec(client)  # no tests: nothing to gate, so it may go live
    assert (await client.post("/api/specs/ticket-triage/publish", json={"version": 1})).is_success
    plain = (await client.post("/v1/agents/ticket-triage", json=TICKET)).json()
    wanted = next(team for team in TEAMS if team != plain["team"])
    tests = [
        {
            "name": "expects another team",
            "input": TICKET,
            "expect": [{"path": "/team", "equals": wanted}],
        }
    ]
    saved = await client.post(
        "/api/specs/ticket-triage/versions",
        json={"document": make_document(tests=tests), "base_version": 1},
    )
    assert saved.status_code == 201, saved.text
    run = await wait_run(client, saved.headers["X-Specloom-Test-Run"])
    assert run["status"] == "failed"
    assert run["offline"] is True
    (attempt,) = run["cases"][0]["runs"]
    assert attempt["output"]["team"] == plain["team"]


@pytest.mark.parametrize(
    ("passes", "attempts", "lower"),
    [(3, 3, 0.4385), (10, 10, 0.7225), (19, 20, 0.7639), (50, 100, 0.4038), (0, 5, 0.0)],
)
def test_wilson_lower_bound(passes: int, attempts: int, lower: float) -> None:
    assert wilson_lower(passes, attempts) == pytest.approx(lower, abs=1e-4)


async def test_three_lucky_runs_cannot_pass_a_wilson_gate(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "flaky")
    upstream.default = Valid(BILLING)
    for name, gate in (("on the rate", "rate"), ("on the bound", "wilson")):
        body = case_body(name, repeat=3, min_pass_rate=0.6, gate=gate)
        assert (await api.post("/api/specs/flaky/cases", json=body)).status_code == 201
    run = await start_run(api, "flaky", 1)
    # Repeats are independent calls: the response cache never answers them.
    assert upstream.calls() == 6
    cases = {c["name"]: c for c in run["cases"]}
    rate, bound = cases["on the rate"], cases["on the bound"]
    assert (rate["pass_rate"], rate["pass_k"], rate["passed"]) == (1.0, 1.0, True)
    assert bound["gate"] == "wilson"
    assert bound["wilson_lower"] == pytest.approx(0.4385, abs=1e-4)
    assert bound["passed"] is False
    assert run["failing_cases"] == ["on the bound"]


async def test_pass_k_is_zero_when_one_repeat_fails(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, "mixed")
    upstream.script(Valid(BILLING), Valid(SALES), Valid(BILLING))
    body = case_body("mostly", repeat=3, min_pass_rate=0.6)
    assert (await api.post("/api/specs/mixed/cases", json=body)).status_code == 201
    (case,) = (await start_run(api, "mixed", 1))["cases"]
    assert case["pass_rate"] == pytest.approx(2 / 3)
    assert case["pass_k"] == 0.0
    assert case["passed"] is True


async def test_a_wilson_gate_that_could_never_pass_is_refused(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    body = case_body("impossible", repeat=5, gate="wilson")  # min_pass_rate 1.0
    response = await client.post("/api/specs/ticket-triage/cases", json=body)
    assert response.status_code == 422
    assert "never reaches 1" in response.text
