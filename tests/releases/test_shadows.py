"""Shadow runs: the candidate answers after live, and the two are compared per field."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Status, Valid
from tests.releases.helpers import AGENT, SPEC, until

CALLS = 10


def _live(i: int) -> dict[str, Any]:
    return {"team": "billing", "priority": "normal", "summary": f"Double charge number {i}."}


def _candidate(i: int) -> dict[str, Any]:
    """Agrees on /team always, on /priority 7 times in 10, on /summary 8 times in 10 (a
    difference of case, spacing and a final full stop is agreement)."""
    answer = {"team": "billing", "priority": "normal", "summary": f"double  CHARGE number {i}"}
    if i < 3:
        answer["priority"] = "high"
    if i in (3, 4):
        answer["summary"] = "Something else entirely"
    return answer


async def _shadowed_agent(api: httpx.AsyncClient, sample: float) -> dict[str, Any]:
    created = await api.post("/api/specs", json={"document": make_document()})
    assert created.status_code == 201, created.text
    document = make_document(model={"name": "smart"}, description="candidate")
    saved = await api.post(
        SPEC + "/versions", json={"document": document, "base_version": 1, "message": "smart"}
    )
    assert saved.status_code == 201, saved.text
    assert (await api.post(SPEC + "/publish", json={"version": 1})).status_code == 200
    shadow = await api.post(SPEC + "/shadows", json={"version": 2, "sample": sample})
    assert shadow.status_code == 201, shadow.text
    body: dict[str, Any] = shadow.json()
    assert body["status"] == "running"
    return body


async def test_shadow_agreement_per_field_matches_the_script(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    shadow = await _shadowed_agent(api, 1.0)
    upstream.script(*[Valid(_live(i)) for i in range(CALLS)], model="fake-fast")
    upstream.script(*[Valid(_candidate(i)) for i in range(CALLS)], model="fake-smart")
    for i in range(CALLS):
        body = {"subject": f"Ticket {i}", "body": "I was charged twice."}
        response = await api.post(AGENT, json=body)
        assert response.status_code == 200, response.text
        # The caller gets live's answer, whatever the candidate says.
        assert response.headers["x-specloom-version"] == "1"
        assert response.json() == _live(i)

    async def read() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get(f"{SPEC}/shadows/{shadow['id']}")).json()
        return found

    report = await until(read, lambda body: body["compared"] == CALLS)
    assert report["calls"] == CALLS
    assert report["fields"] == {"/priority": 0.7, "/summary": 0.8, "/team": 1.0}
    assert report["agreement"] == 0.5  # calls 5 to 9 agree on every field
    assert report["candidate_failures"] == 0
    assert report["cost_usd"] > 0
    differing = {tuple(d["fields"]) for d in report["differences"]}
    assert differing == {("/priority",), ("/summary",)}
    assert len(report["differences"]) == 5
    executions = (await api.get("/api/executions?source=shadow&limit=100")).json()["items"]
    assert len(executions) == CALLS
    assert {e["version"] for e in executions} == {2}
    assert all(e["cache"] == "miss" for e in executions)


async def test_candidate_failures_are_counted_and_never_reach_the_caller(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    shadow = await _shadowed_agent(api, 1.0)
    upstream.script(*[Status(500)] * 3, model="fake-smart")
    for i in range(3):
        response = await api.post(AGENT, json={"subject": f"T{i}", "body": "b"})
        assert response.status_code == 200, response.text

    async def read() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get(f"{SPEC}/shadows/{shadow['id']}")).json()
        return found

    report = await until(read, lambda body: body["calls"] == 3)
    assert (report["calls"], report["compared"], report["candidate_failures"]) == (3, 0, 3)
    assert report["agreement"] is None

    stopped = await api.post(f"{SPEC}/shadows/{shadow['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    await api.post(AGENT, json={"subject": "after", "body": "b"})
    after = await until(read, lambda body: body["calls"] > 3, timeout_s=0.5)
    assert after["calls"] == 3
    again = await api.post(f"{SPEC}/shadows/{shadow['id']}/stop")
    assert again.status_code == 409
    releases = (await api.get(SPEC + "/releases")).json()["items"]
    assert [r["action"] for r in releases] == ["publish", "shadow", "shadow_stopped"]


async def test_a_sample_runs_the_candidate_on_a_share_of_calls(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    shadow = await _shadowed_agent(api, 0.5)
    for i in range(60):
        await api.post(AGENT, json={"subject": f"T{i}", "body": "b"})

    async def read() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get(f"{SPEC}/shadows/{shadow['id']}")).json()
        return found

    asked = upstream.calls("fake-smart")
    # Binomial(60, 0.5): 30 ± 15 is five standard deviations.
    assert 15 <= asked <= 45
    report = await until(read, lambda body: body["calls"] == asked)
    assert report["calls"] == asked


async def test_the_candidates_checks_are_run_on_both_answers(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """The candidate adds a check (a summary ends with a full stop, as a warning): live's
    answers all end with one, the candidate's never do."""
    created = await api.post("/api/specs", json={"document": make_document()})
    assert created.status_code == 201, created.text
    check = {
        "name": "summary-ends-with-a-full-stop",
        "assert": 'output.summary.endsWith(".")',
        "message": "The summary ends with a full stop.",
        "severity": "warn",
    }
    document = make_document(model={"name": "smart"}, description="stricter", checks=[check])
    saved = await api.post(
        SPEC + "/versions", json={"document": document, "base_version": 1, "message": "checks"}
    )
    assert saved.status_code == 201, saved.text
    assert (await api.post(SPEC + "/publish", json={"version": 1})).status_code == 200
    started = await api.post(SPEC + "/shadows", json={"version": 2, "sample": 1.0})
    assert started.status_code == 201, started.text
    upstream.script(*[Valid(_live(i)) for i in range(3)], model="fake-fast")
    upstream.script(*[Valid(_candidate(i)) for i in range(5, 8)], model="fake-smart")
    for i in range(3):
        response = await api.post(AGENT, json={"subject": f"Ticket {i}", "body": "Twice."})
        assert response.status_code == 200, response.text

    async def read() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get(f"{SPEC}/shadows/{started.json()['id']}")).json()
        return found

    report = await until(read, lambda body: body["compared"] == 3)
    assert report["check_failures"] == {"live": 0, "candidate": 3}
