"""The audit trail: every management action, with who did it, in the action's transaction."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import make_document
from tests.security.helpers import make_key


async def _events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_action_is_audited_newest_first(client: httpx.AsyncClient) -> None:
    ops = await make_key(client, "admin", name="ops")
    as_ops = ops.headers
    steps = [
        ("POST", "/api/specs", {"document": make_document("alpha")}),
        (
            "POST",
            "/api/specs/alpha/versions",
            {"document": make_document("alpha", title="Two"), "base_version": 1, "message": "m"},
        ),
        ("POST", "/api/specs/alpha/publish", {"version": 1}),
        ("POST", "/api/specs/alpha/publish", {"version": 2, "force": True, "reason": "hotfix"}),
        ("POST", "/api/specs/alpha/rollback", {"reason": "bad"}),
        ("POST", "/api/budgets", {"scope": "global", "period": "day", "limit_usd": 1}),
    ]
    for method, url, body in steps:
        response = await client.request(method, url, json=body, headers=as_ops)
        assert response.status_code in (200, 201), response.text
    budget_id = (await client.get("/api/budgets")).json()["items"][0]["id"]
    assert (await client.delete(f"/api/budgets/{budget_id}", headers=as_ops)).status_code == 204
    assert (await client.delete(f"/api/keys/{ops.id}")).status_code == 204

    events = await _events(client)
    assert [e["action"] for e in events] == [
        "key.revoked",
        "budget.deleted",
        "budget.created",
        "spec.rolled_back",
        "spec.force_published",
        "spec.published",
        "version.created",
        "spec.created",
        "key.created",
    ]
    by_action = {e["action"]: e for e in events}
    assert by_action["key.created"]["actor"] == "bootstrap-admin"
    assert by_action["key.revoked"]["target"] == f"key:{ops.id}"
    for action in ("spec.created", "version.created", "spec.published", "budget.deleted"):
        assert by_action[action]["actor"] == ops.id
    assert by_action["spec.rolled_back"]["details"] == {
        "from_version": 2,
        "to_version": 1,
        "reason": "bad",
    }
    assert by_action["spec.force_published"]["details"]["reason"] == "hotfix"
    assert by_action["budget.deleted"]["target"] == f"budget:{budget_id}"
    assert by_action["key.created"]["details"]["name"] == "ops"

    # Versions and releases say who, by the key's name and id.
    versions = (await client.get("/api/specs/alpha/versions/2")).json()
    assert versions["author"] == f"ops ({ops.id})"
    releases = (await client.get("/api/specs/alpha/releases")).json()["items"]
    assert {r["actor"] for r in releases} == {f"ops ({ops.id})"}


async def test_filters_and_pages(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await make_key(client, "invoke", name=f"k{n}")
    response = await client.post("/api/specs", json={"document": make_document("alpha")})
    assert response.status_code == 201
    assert [e["action"] for e in await _events(client, action="spec.created")] == ["spec.created"]
    assert len(await _events(client, target="spec:alpha")) == 1
    first = (await client.get("/api/audit", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    second = (
        await client.get("/api/audit", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    names = [e["details"].get("name") for e in first["items"] + second["items"]]
    assert names == [None, "k2", "k1", "k0"]
    bad = await client.get("/api/audit", params={"cursor": "nope"})
    assert bad.status_code == 400


async def test_a_failed_action_leaves_no_audit_event(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/specs", json={"document": make_document("alpha")})
    assert response.status_code == 201
    again = await client.post("/api/specs", json={"document": make_document("alpha")})
    assert again.status_code == 409
    stale = await client.post(
        "/api/specs/alpha/versions",
        json={"document": make_document("alpha"), "base_version": 7, "message": "m"},
    )
    assert stale.status_code == 409
    assert [e["action"] for e in await _events(client)] == ["spec.created"]
