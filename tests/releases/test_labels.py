"""Labels: named pointers callers choose with `?label=` or `X-Specloom-Label`."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from app.serving.arms import AgentReleases, ReleaseView
from app.serving.live import LiveAgents
from tests.factories import add_version, create_spec, publish

INPUT = {"subject": "Refund please", "body": "I was charged twice."}
AGENT = "/v1/agents/ticket-triage"


async def _two_versions_one_live(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    await add_version(client, "ticket-triage", 1, description="second")
    await publish(client, "ticket-triage", 1)


async def test_a_label_points_callers_at_its_version(client: httpx.AsyncClient) -> None:
    await _two_versions_one_live(client)
    put = await client.put(
        "/api/specs/ticket-triage/labels/staging", json={"version": 2, "reason": "try it"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["label"] == "staging"
    assert put.json()["version"] == 2

    listed = (await client.get("/api/specs/ticket-triage/labels")).json()["items"]
    assert [(i["label"], i["version"]) for i in listed] == [("production", 1), ("staging", 2)]

    by_query = await client.post(AGENT + "?label=staging", json=INPUT)
    by_header = await client.post(AGENT, json=INPUT, headers={"X-Specloom-Label": "staging"})
    plain = await client.post(AGENT, json=INPUT)
    production = await client.post(AGENT + "?label=production", json=INPUT)
    assert by_query.status_code == 200, by_query.text
    assert by_query.headers["x-specloom-version"] == "2"
    assert by_header.headers["x-specloom-version"] == "2"
    assert plain.headers["x-specloom-version"] == "1"
    assert production.headers["x-specloom-version"] == "1"
    record = (
        await client.get(f"/v1/executions/{by_query.headers['x-specloom-execution-id']}")
    ).json()
    assert (record["version"], record["label"]) == (2, "staging")


async def test_every_label_move_is_a_release_and_an_audit_event(
    client: httpx.AsyncClient,
) -> None:
    await _two_versions_one_live(client)
    await client.put("/api/specs/ticket-triage/labels/staging", json={"version": 1})
    await client.put(
        "/api/specs/ticket-triage/labels/staging", json={"version": 2, "reason": "newer"}
    )
    removed = await client.delete("/api/specs/ticket-triage/labels/staging")
    assert removed.status_code == 204

    releases = (await client.get("/api/specs/ticket-triage/releases")).json()["items"]
    moves = [(r["action"], r["label"], r["from_version"], r["to_version"]) for r in releases]
    assert moves == [
        ("publish", "production", None, 1),
        ("label", "staging", None, 1),
        ("label", "staging", 1, 2),
        ("unlabel", "staging", 2, None),
    ]
    assert releases[2]["reason"] == "newer"
    events = (await client.get("/api/audit?target=spec:ticket-triage")).json()["items"]
    actions = [e["action"] for e in events if e["action"].startswith("label.")]
    assert actions == ["label.removed", "label.set", "label.set"]

    gone = await client.post(AGENT + "?label=staging", json=INPUT)
    assert gone.status_code == 404
    assert gone.json()["type"].endswith("/label-not-found")
    # A label leaves the live pointer alone, and rollback's history ignores label moves.
    assert (await client.get("/api/specs/ticket-triage")).json()["live_version"] == 1
    rollback = await client.post("/api/specs/ticket-triage/rollback", json={})
    assert rollback.status_code == 409


async def test_production_is_moved_only_by_publish_and_rollback(
    client: httpx.AsyncClient,
) -> None:
    await _two_versions_one_live(client)
    put = await client.put("/api/specs/ticket-triage/labels/production", json={"version": 2})
    assert put.status_code == 409
    assert put.json()["type"].endswith("/label-reserved")
    delete = await client.delete("/api/specs/ticket-triage/labels/production")
    assert delete.status_code == 409
    assert (await client.get("/api/specs/ticket-triage")).json()["live_version"] == 1


async def test_bad_labels_and_versions_are_refused_clearly(client: httpx.AsyncClient) -> None:
    await _two_versions_one_live(client)
    bad_path = await client.put("/api/specs/ticket-triage/labels/Not_A_Slug", json={"version": 1})
    assert bad_path.status_code == 422
    unknown_version = await client.put(
        "/api/specs/ticket-triage/labels/staging", json={"version": 9}
    )
    assert unknown_version.status_code == 404
    bad_call = await client.post(AGENT + "?label=Bad!", json=INPUT)
    assert bad_call.status_code == 422
    assert bad_call.json()["errors"][0]["pointer"] == "query:label"
    both = await client.post(AGENT + "?label=staging&version=1", json=INPUT)
    assert both.status_code == 422
    missing = await client.delete("/api/specs/ticket-triage/labels/nope")
    assert missing.status_code == 404


async def test_an_invoke_key_limited_to_labels_calls_only_through_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _two_versions_one_live(client)
    await client.put("/api/specs/ticket-triage/labels/staging", json={"version": 2})
    created = await client.post(
        "/api/keys", json={"name": "staging only", "scopes": ["invoke"], "labels": ["staging"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["labels"] == ["staging"]
    key = {"Authorization": f"Bearer {created.json()['secret']}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        staged = await http.post(AGENT + "?label=staging", json=INPUT, headers=key)
        assert staged.status_code == 200, staged.text
        assert staged.headers["x-specloom-version"] == "2"
        assert (await http.post(AGENT, json=INPUT, headers=key)).status_code == 403
        pinned = await http.post(AGENT + "?version=2", json=INPUT, headers=key)
        assert pinned.status_code == 403


async def test_a_burst_after_a_move_reads_the_releases_once(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _two_versions_one_live(client)
    await client.put("/api/specs/ticket-triage/labels/staging", json={"version": 2})
    live = LiveAgents(app.state.sessionmaker)
    view = ReleaseView(app.state.sessionmaker, live)  # a process that has not served it yet
    loads = 0
    load = view._load

    async def counting(name: str) -> AgentReleases:
        nonlocal loads
        loads += 1
        return await load(name)

    monkeypatch.setattr(view, "_load", counting)
    found = await asyncio.gather(*(view.of("ticket-triage") for _ in range(50)))
    assert loads == 1
    assert {tuple(f.labels.items()) for f in found} == {(("staging", 2),)}
    live.invalidate("ticket-triage")  # a NOTIFY: the next call reads again
    await view.of("ticket-triage")
    assert loads == 2
