"""Publishing and rolling back: atomic moves of the live pointer, recorded as releases."""

from __future__ import annotations

import httpx

from tests.factories import add_version, create_spec, publish

PROBLEM = "application/problem+json"


async def _three_versions(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    await add_version(client, "ticket-triage", 1, description="two")
    await add_version(client, "ticket-triage", 2, description="three")


async def live(client: httpx.AsyncClient) -> int | None:
    value: int | None = (await client.get("/api/specs/ticket-triage")).json()["live_version"]
    return value


async def test_publish_moves_the_pointer_and_records_a_release(client: httpx.AsyncClient) -> None:
    await _three_versions(client)
    release = await publish(client, "ticket-triage", 2)
    assert release["action"] == "publish"
    assert release["from_version"] is None
    assert release["to_version"] == 2
    assert release["actor"] == "bootstrap-admin"
    assert "at" in release
    assert await live(client) == 2
    second = await client.post(
        "/api/specs/ticket-triage/publish", json={"version": 3, "reason": "better rules"}
    )
    assert second.json()["from_version"] == 2
    assert second.json()["reason"] == "better rules"
    assert await live(client) == 3


async def test_publish_unknown_version_is_404_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await create_spec(client)
    response = await client.post("/api/specs/ticket-triage/publish", json={"version": 5})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert await live(client) is None
    assert (await client.get("/api/specs/ticket-triage/releases")).json()["items"] == []


async def test_rollback_defaults_to_the_previous_live_version(client: httpx.AsyncClient) -> None:
    await _three_versions(client)
    for n in (1, 2, 3):
        await publish(client, "ticket-triage", n)
    first = await client.post("/api/specs/ticket-triage/rollback", json={"reason": "bad"})
    assert first.status_code == 200, first.text
    assert first.json()["action"] == "rollback"
    assert (first.json()["from_version"], first.json()["to_version"]) == (3, 2)
    # A second rollback walks further back instead of flipping back to 3.
    second = await client.post("/api/specs/ticket-triage/rollback", json={})
    assert (second.json()["from_version"], second.json()["to_version"]) == (2, 1)
    third = await client.post("/api/specs/ticket-triage/rollback", json={})
    assert third.status_code == 409
    assert "no earlier live version" in third.json()["detail"]
    assert await live(client) == 1


async def test_rollback_to_an_explicit_version(client: httpx.AsyncClient) -> None:
    await _three_versions(client)
    await publish(client, "ticket-triage", 1)
    await publish(client, "ticket-triage", 3)
    response = await client.post("/api/specs/ticket-triage/rollback", json={"version": 1})
    assert response.json()["to_version"] == 1
    assert await live(client) == 1
    same = await client.post("/api/specs/ticket-triage/rollback", json={"version": 1})
    assert same.status_code == 409
    unknown = await client.post("/api/specs/ticket-triage/rollback", json={"version": 9})
    assert unknown.status_code == 404


async def test_rollback_never_makes_a_never_live_version_live(client: httpx.AsyncClient) -> None:
    """Rollback skips the gates, so it may only return to a version that passed them once:
    version 2 was never live, and has to be published instead."""
    await _three_versions(client)
    await publish(client, "ticket-triage", 1)
    await publish(client, "ticket-triage", 3)
    response = await client.post(
        "/api/specs/ticket-triage/rollback", json={"version": 2, "reason": "try it"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("version-never-live")
    assert "publish it instead" in problem["detail"]
    assert problem["rollback_versions"] == [1]
    assert await live(client) == 3
    items = (await client.get("/api/specs/ticket-triage/releases")).json()["items"]
    assert [r["action"] for r in items] == ["publish", "publish"]


async def test_rollback_with_nothing_to_roll_back_to(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    never = await client.post("/api/specs/ticket-triage/rollback", json={})
    assert never.status_code == 409
    assert never.headers["content-type"] == PROBLEM
    assert "never been published" in never.json()["detail"]
    await publish(client, "ticket-triage", 1)
    only = await client.post("/api/specs/ticket-triage/rollback", json={})
    assert only.status_code == 409


async def test_release_history_in_order(client: httpx.AsyncClient) -> None:
    await _three_versions(client)
    await publish(client, "ticket-triage", 1)
    await publish(client, "ticket-triage", 3)
    await client.post("/api/specs/ticket-triage/rollback", json={"reason": "regression"})
    items = (await client.get("/api/specs/ticket-triage/releases")).json()["items"]
    assert [(r["action"], r["from_version"], r["to_version"]) for r in items] == [
        ("publish", None, 1),
        ("publish", 1, 3),
        ("rollback", 3, 1),
    ]
    assert items[2]["reason"] == "regression"
    versions = (await client.get("/api/specs/ticket-triage/versions")).json()["items"]
    assert [v["live"] for v in versions] == [True, False, False]
