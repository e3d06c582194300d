"""The guard: a failing candidate is rolled back by itself, from its recorded calls."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Status
from tests.releases.conftest import ApiFactory
from tests.releases.helpers import AGENT, INPUT, SPEC, start_rollout, subject, until

GUARD = {"max_failure_rate": 0.25, "min_calls": 4}


async def failing_candidate(http: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    """Version 1 (model `fast`) live; version 2 (model `smart`) answers 500 every time."""
    created = await http.post("/api/specs", json={"document": make_document()})
    assert created.status_code == 201, created.text
    document = make_document(model={"name": "smart"}, description="candidate")
    saved = await http.post(
        SPEC + "/versions", json={"document": document, "base_version": 1, "message": "smart"}
    )
    assert saved.status_code == 201, saved.text
    assert (await http.post(SPEC + "/publish", json={"version": 1})).status_code == 200
    upstream.script(*[Status(500)] * 500, model="fake-smart")


async def test_the_guard_rolls_back_a_failing_candidate_and_says_why(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(rollout_guard_interval_s=0.05) as api:
        await failing_candidate(api, upstream)
        rollout = await start_rollout(api, 2, 50, **GUARD)
        on_candidate = []
        for i in range(40):
            response = await api.post(AGENT, json=INPUT, headers=subject(i))
            if response.headers["x-specloom-version"] == "2":
                assert response.status_code in (502, 503), response.text
                on_candidate.append(i)
            if len(on_candidate) == GUARD["min_calls"]:
                break
        assert len(on_candidate) == GUARD["min_calls"]

        async def read() -> dict[str, Any]:
            body: dict[str, Any] = (await api.get(f"{SPEC}/rollouts/{rollout['id']}")).json()
            return body

        ended = await until(read, lambda body: body["status"] != "running")
        assert ended["status"] == "rolled_back"
        assert ended["ended_by"] == "guard"
        assert ended["outcome"]["tripped"] == "max_failure_rate"
        assert ended["outcome"]["figures"]["calls"] == GUARD["min_calls"]
        assert ended["outcome"]["figures"]["failure_rate"] == 1.0

        # Every subject is back on live at once, those on the candidate included.
        for i in on_candidate:
            response = await api.post(AGENT, json=INPUT, headers=subject(i))
            assert response.status_code == 200, response.text
            assert response.headers["x-specloom-version"] == "1"

        releases = (await api.get(SPEC + "/releases")).json()["items"]
        last = releases[-1]
        assert (last["action"], last["actor"]) == ("rollout_rolled_back", "guard")
        assert (last["from_version"], last["to_version"]) == (2, 1)
        assert last["details"]["figures"]["failures"] == GUARD["min_calls"]
        assert "failure rate 1.000 over 4 calls" in last["reason"]
        events = (await api.get("/api/audit?action=rollout.rolled_back")).json()["items"]
        assert len(events) == 1
        assert events[0]["actor"] == "guard"
        assert events[0]["details"]["tripped"] == "max_failure_rate"
        assert events[0]["details"]["limit"] == 0.25
        assert (await api.get(SPEC)).json()["live_version"] == 1


async def test_the_guard_waits_for_min_calls(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(rollout_guard_interval_s=0.05) as api:
        await failing_candidate(api, upstream)
        rollout = await start_rollout(api, 2, 100, max_failure_rate=0.25, min_calls=50)
        for i in range(5):
            assert (await api.post(AGENT, json=INPUT, headers=subject(i))).status_code >= 500

        async def read() -> dict[str, Any]:
            body: dict[str, Any] = (await api.get(f"{SPEC}/rollouts/{rollout['id']}")).json()
            return body

        figures = await until(read, lambda body: body["arms"]["candidate"]["calls"] == 5)
        assert figures["arms"]["candidate"]["failure_rate"] == 1.0
        # Several guard rounds later it is still running: 5 calls are not evidence yet.
        still = await until(read, lambda body: body["status"] != "running", timeout_s=0.5)
        assert still["status"] == "running"
