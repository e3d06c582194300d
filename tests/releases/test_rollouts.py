"""Canary rollouts: a sticky share of subjects on a candidate, promote, abort, refusals."""

from __future__ import annotations

import math
from typing import Any

import httpx

from tests.factories import add_version, create_spec, publish
from tests.releases.helpers import AGENT, INPUT, SPEC, start_rollout, subject, until

SUBJECTS = 200
PERCENT = 30


async def _candidate_beside_live(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    await add_version(client, "ticket-triage", 1, description="candidate")
    await publish(client, "ticket-triage", 1)


async def test_200_subjects_get_a_sticky_30_percent_share(client: httpx.AsyncClient) -> None:
    await _candidate_beside_live(client)
    rollout = await start_rollout(client, 2, PERCENT)
    assert rollout["status"] == "running"
    assert (rollout["version"], rollout["live_version"], rollout["percent"]) == (2, 1, 30)

    versions: dict[int, str] = {}
    for rounds in range(2):
        for i in range(SUBJECTS):
            response = await client.post(AGENT, json=INPUT, headers=subject(i))
            assert response.status_code == 200, response.text
            served = response.headers["x-specloom-version"]
            if rounds == 0:
                versions[i] = served
            else:
                assert served == versions[i], f"subject {i} moved from {versions[i]} to {served}"
    on_candidate = sum(1 for v in versions.values() if v == "2")
    # Binomial(200, 0.3): mean 60, sd 6.5; four standard deviations either side.
    spread = 4 * math.sqrt(SUBJECTS * 0.3 * 0.7)
    assert 60 - spread <= on_candidate <= 60 + spread, on_candidate
    assert set(versions.values()) == {"1", "2"}

    async def read() -> dict[str, Any]:
        body: dict[str, Any] = (await client.get(f"{SPEC}/rollouts/{rollout['id']}")).json()
        return body

    def counted(body: dict[str, Any]) -> bool:
        arms = body["arms"]
        return bool(arms["live"]["calls"] + arms["candidate"]["calls"] == 2 * SUBJECTS)

    figures = await until(read, counted)
    assert figures["arms"]["candidate"]["calls"] == 2 * on_candidate
    assert figures["arms"]["live"]["calls"] == 2 * (SUBJECTS - on_candidate)
    assert figures["arms"]["candidate"]["failure_rate"] == 0


async def test_without_a_subject_the_key_decides(client: httpx.AsyncClient) -> None:
    await _candidate_beside_live(client)
    await start_rollout(client, 2, 50)
    served = {
        (await client.post(AGENT, json=INPUT)).headers["x-specloom-version"] for _ in range(5)
    }
    assert len(served) == 1  # the bootstrap key is one subject


async def test_promote_makes_the_candidate_live_as_a_publish(client: httpx.AsyncClient) -> None:
    await _candidate_beside_live(client)
    rollout = await start_rollout(client, 2, 10)
    promoted = await client.post(
        f"{SPEC}/rollouts/{rollout['id']}/promote", json={"reason": "looks good"}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["status"] == "promoted"
    assert (await client.get(SPEC)).json()["live_version"] == 2
    releases = (await client.get(SPEC + "/releases")).json()["items"]
    assert [(r["action"], r["to_version"]) for r in releases] == [
        ("publish", 1),
        ("rollout", 2),
        ("publish", 2),
    ]
    assert releases[-1]["details"]["rollout_id"] == rollout["id"]
    for i in range(20):
        response = await client.post(AGENT, json=INPUT, headers=subject(i))
        assert response.headers["x-specloom-version"] == "2"
    again = await client.post(f"{SPEC}/rollouts/{rollout['id']}/abort")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/rollout-ended")


async def test_abort_sends_everyone_back_to_live(client: httpx.AsyncClient) -> None:
    await _candidate_beside_live(client)
    rollout = await start_rollout(client, 2, 100)
    assert (await client.post(AGENT, json=INPUT)).headers["x-specloom-version"] == "2"
    aborted = await client.post(f"{SPEC}/rollouts/{rollout['id']}/abort", json={})
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["status"] == "aborted"
    assert aborted.json()["ended_by"] == "bootstrap-admin"
    assert (await client.post(AGENT, json=INPUT)).headers["x-specloom-version"] == "1"
    events = (await client.get("/api/audit?target=spec:ticket-triage")).json()["items"]
    assert [e["action"] for e in events][:2] == ["rollout.aborted", "rollout.started"]


async def test_a_running_rollout_holds_the_live_pointer(client: httpx.AsyncClient) -> None:
    await _candidate_beside_live(client)
    await add_version(client, "ticket-triage", 2, description="third")
    await start_rollout(client, 2, 10)
    second = await client.post(
        SPEC + "/rollouts",
        json={"version": 3, "percent": 5, "guard": {"max_failure_rate": 0.1, "min_calls": 5}},
    )
    assert second.status_code == 409
    assert second.json()["type"].endswith("/rollout-running")
    blocked = await client.post(SPEC + "/publish", json={"version": 3})
    assert blocked.status_code == 409
    assert blocked.json()["type"].endswith("/rollout-running")
    assert (await client.get(SPEC)).json()["live_version"] == 1


async def test_rollouts_are_refused_clearly(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    guard = {"max_failure_rate": 0.1, "min_calls": 5}
    nothing_live = await client.post(
        SPEC + "/rollouts", json={"version": 1, "percent": 5, "guard": guard}
    )
    assert nothing_live.status_code == 409
    assert nothing_live.json()["type"].endswith("/nothing-to-roll-out")
    await publish(client, "ticket-triage", 1)
    live = await client.post(SPEC + "/rollouts", json={"version": 1, "percent": 5, "guard": guard})
    assert live.status_code == 409
    bad = await client.post(
        SPEC + "/rollouts",
        json={"version": 1, "percent": 150, "guard": {"max_failure_rate": 2, "min_calls": 0}},
    )
    assert bad.status_code == 422
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert pointers == {"/percent", "/guard/max_failure_rate", "/guard/min_calls"}
    await add_version(client, "ticket-triage", 1, description="candidate")
    forced = await client.post(
        SPEC + "/rollouts", json={"version": 2, "percent": 5, "guard": guard, "force": True}
    )
    assert forced.status_code == 422
    assert forced.json()["type"].endswith("/force-without-reason")
    assert (await client.get(SPEC + "/rollouts")).json()["items"] == []
