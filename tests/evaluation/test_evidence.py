"""Evidence that can fail: the offline model never answers a test from its expectations,
and repeats report how sure they make us (pass^k, a Wilson lower bound to gate on)."""

from __future__ import annotations

import httpx
import pytest

from app.core.stats import repeats_needed, wilson_lower
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
    assert wilson_lower(0, attempts) == 0.0  # exactly: no floating-point dust


def test_repeats_needed_for_a_wilson_gate() -> None:
    assert repeats_needed(0.6) == 6
    assert repeats_needed(0.9) == 35
    assert repeats_needed(1.0) is None


async def test_a_flaky_case_cannot_pass_a_wilson_gate_on_a_lucky_rate(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """6 of 8 runs pass: 75% meets min_pass_rate 0.6, but how sure 8 runs make us (a lower
    bound of 0.41) does not, so the case fails on `gate: wilson`."""
    await live_agent(api, "flaky")
    upstream.script(*[Valid(BILLING)] * 6, *[Valid(SALES)] * 2)
    body = case_body("on the bound", repeat=8, min_pass_rate=0.6, gate="wilson")
    assert (await api.post("/api/specs/flaky/cases", json=body)).status_code == 201
    run = await start_run(api, "flaky", 1)
    # Repeats are independent calls: the response cache never answers them.
    assert upstream.calls() == 8
    (case,) = run["cases"]
    assert case["pass_rate"] == 0.75
    assert case["pass_k"] == 0.0
    assert case["wilson_lower"] == pytest.approx(0.4093, abs=1e-4)
    assert case["passed"] is False
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


@pytest.mark.parametrize(
    ("repeat", "min_pass_rate", "says"),
    [(5, 1.0, "never reaches 1"), (3, 0.9, "use repeat: 35 or more")],
)
async def test_a_wilson_gate_that_could_never_pass_is_refused(
    client: httpx.AsyncClient, repeat: int, min_pass_rate: float, says: str
) -> None:
    await create_spec(client)
    body = case_body("impossible", repeat=repeat, min_pass_rate=min_pass_rate, gate="wilson")
    response = await client.post("/api/specs/ticket-triage/cases", json=body)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert says in error["message"]
    assert not error["message"].startswith("Value error")


async def test_promoting_an_offline_answer_gives_a_placeholder_case(
    client: httpx.AsyncClient,
) -> None:
    """Promoted straight after the call (the draft waits for the record), the offline
    model's values are named placeholders in the draft and the saved case is marked."""
    await create_spec(client)
    assert (await client.post("/api/specs/ticket-triage/publish", json={"version": 1})).is_success
    called = await client.post("/v1/agents/ticket-triage", json=TICKET)
    execution_id = called.headers["x-specloom-execution-id"]
    promoted = await client.post(f"/api/executions/{execution_id}/promote")
    assert promoted.status_code == 200, promoted.text
    draft = promoted.json()
    assert draft["offline"] is True
    assert "placeholders" in draft["review"]
    saved = await client.post(draft["save"], json=draft["case"])
    assert saved.status_code == 201, saved.text
    assert saved.json()["placeholder"] is True
    assert saved.json()["origin"] == "promoted"
