"""Roles at work and the guardrails an admin sets per agent: an author changes rules and runs
tests but cannot publish; with approvals on, a publish waits for a second publisher; in
rules-only mode an author cannot change the contract; only the listed publishers publish."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import create_spec, make_document
from tests.security.helpers import Key, make_key

AGENT = "triage"
PROBLEM = "https://specloom.dev/problems/"


async def _version(
    client: httpx.AsyncClient, key: Key, base: int, **overrides: Any
) -> httpx.Response:
    return await client.post(
        f"/api/specs/{AGENT}/versions",
        json={"document": make_document(AGENT, **overrides), "base_version": base, "message": "m"},
        headers=key.headers,
    )


async def _guard(client: httpx.AsyncClient, **fields: Any) -> None:
    answer = await client.put(f"/api/specs/{AGENT}/guardrails", json=fields)
    assert answer.status_code == 200, answer.text


async def test_an_author_changes_rules_and_runs_tests_but_cannot_publish(
    client: httpx.AsyncClient,
) -> None:
    await create_spec(client, AGENT)
    author = await make_key(client, "author", name="ada")
    saved = await _version(client, author, 1, rules=["Refunds go to billing."])
    assert saved.status_code == 201, saved.text
    assert saved.json()["author"].startswith("ada (")
    case = await client.post(
        f"/api/specs/{AGENT}/cases",
        json={"name": "refund", "input": {"subject": "Refund", "body": "twice"}},
        headers=author.headers,
    )
    assert case.status_code == 201, case.text
    run = await client.post(f"/api/specs/{AGENT}/versions/2/test-runs", headers=author.headers)
    assert run.status_code == 202, run.text
    refused = await client.post(
        f"/api/specs/{AGENT}/publish",
        json={"version": 2, "force": True, "reason": "try"},
        headers=author.headers,
    )
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"] == PROBLEM + "forbidden"
    assert problem["required_role"] == "publisher"
    assert problem["role"] == "author"
    assert (await client.get(f"/api/specs/{AGENT}")).json()["live_version"] is None


async def test_with_approvals_on_a_publish_waits_for_a_second_publisher(
    client: httpx.AsyncClient,
) -> None:
    await create_spec(client, AGENT)
    assert (await _version(client, await make_key(client, "author"), 1, title="Two")).is_success
    ann = await make_key(client, "publisher", name="ann")
    bob = await make_key(client, "publisher", name="bob")
    await _guard(client, require_approval=True)
    asked = await client.post(
        f"/api/specs/{AGENT}/publish",
        json={"version": 2, "reason": "new title"},
        headers=ann.headers,
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["status"] == "pending"
    assert request["requested_by"].startswith("ann (")
    assert asked.headers["location"].endswith(request["id"])
    assert (await client.get(f"/api/specs/{AGENT}")).json()["live_version"] is None

    url = f"/api/specs/{AGENT}/release-requests/{request['id']}"
    mine = await client.post(f"{url}/approve", json={}, headers=ann.headers)
    assert mine.status_code == 403
    assert mine.json()["type"] == PROBLEM + "self-approval"

    detail = (await client.get(url, headers=bob.headers)).json()
    assert detail["diff"] is None  # nothing live yet to compare with
    pending = await client.get(f"/api/specs/{AGENT}/release-requests?status=pending")
    assert [r["id"] for r in pending.json()["items"]] == [request["id"]]

    approved = await client.post(
        f"{url}/approve", json={"note": "looks right"}, headers=bob.headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["to_version"] == 2
    assert approved.json()["actor"].startswith("bob (")
    assert (await client.get(f"/api/specs/{AGENT}")).json()["live_version"] == 2
    again = await client.post(f"{url}/approve", json={}, headers=bob.headers)
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "release-request-decided"
    audit = (await client.get("/api/audit?target=spec:" + AGENT)).json()["items"]
    actions = [e["action"] for e in audit]
    assert actions[:3] == ["release.approved", "spec.published", "release.requested"]


async def test_an_approver_sees_the_diff_and_the_test_evidence(client: httpx.AsyncClient) -> None:
    await create_spec(client, AGENT)
    assert (await client.post(f"/api/specs/{AGENT}/publish", json={"version": 1})).is_success
    assert (await _version(client, await make_key(client, "author"), 1, title="Two")).is_success
    await _guard(client, require_approval=True)
    ann = await make_key(client, "publisher", name="ann")
    asked = await client.post(
        f"/api/specs/{AGENT}/publish", json={"version": 2}, headers=ann.headers
    )
    assert asked.status_code == 202, asked.text
    detail = (await client.get(f"/api/specs/{AGENT}/release-requests/{asked.json()['id']}")).json()
    assert detail["diff"]["from_version"] == 1
    assert {
        "op": "replace",
        "path": "/title",
        "before": "Support ticket triage",
        "after": "Two",
    } in detail["diff"]["changes"]
    assert detail["diff"]["contract"]["breaking"] is False
    assert "tests" in detail


async def test_a_rejected_request_publishes_nothing(client: httpx.AsyncClient) -> None:
    await create_spec(client, AGENT)
    await _guard(client, require_approval=True)
    ann = await make_key(client, "publisher", name="ann")
    asked = await client.post(
        f"/api/specs/{AGENT}/publish", json={"version": 1}, headers=ann.headers
    )
    url = f"/api/specs/{AGENT}/release-requests/{asked.json()['id']}"
    rejected = await client.post(f"{url}/reject", json={"note": "not yet"}, headers=ann.headers)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["note"] == "not yet"
    assert (await client.get(f"/api/specs/{AGENT}")).json()["live_version"] is None
    assert (await client.post(f"{url}/approve", json={})).status_code == 409


async def test_rules_only_lets_authors_change_rules_but_not_the_contract(
    client: httpx.AsyncClient,
) -> None:
    await create_spec(client, AGENT)
    author = await make_key(client, "author", name="ada")
    publisher = await make_key(client, "publisher", name="pat")
    await _guard(client, rules_only=True)
    rules = await _version(client, author, 1, rules=["Refunds go to billing."], examples=[])
    assert rules.status_code == 201, rules.text
    widened = make_document(AGENT)["output_schema"]
    widened["properties"]["team"] = {"enum": ["billing", "technical", "sales", "security", "hr"]}
    locked = await _version(client, author, 2, output_schema=widened)
    assert locked.status_code == 403
    problem = locked.json()
    assert problem["type"] == PROBLEM + "contract-locked"
    assert problem["changed"] == ["output_schema"]
    assert "rules-only" in problem["detail"]
    assert (await client.get(f"/api/specs/{AGENT}")).json()["latest_version"] == 2
    by_publisher = await _version(client, publisher, 2, output_schema=widened)
    assert by_publisher.status_code == 201, by_publisher.text


async def test_only_the_listed_publishers_publish(client: httpx.AsyncClient) -> None:
    await create_spec(client, AGENT)
    await make_key(client, "publisher", name="ann")
    bob = await make_key(client, "publisher", name="bob")
    await _guard(client, publishers=["ann"])
    refused = await client.post(
        f"/api/specs/{AGENT}/publish", json={"version": 1}, headers=bob.headers
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "not-a-publisher-of-this-agent"
    assert refused.json()["publishers"] == ["ann"]
    guard = (await client.get(f"/api/specs/{AGENT}/guardrails", headers=bob.headers)).json()
    assert guard["publishers"] == ["ann"]
    viewer = await make_key(client, "viewer")
    change = await client.put(f"/api/specs/{AGENT}/guardrails", json={}, headers=viewer.headers)
    assert change.status_code == 403


async def test_a_key_has_one_role_and_may_add_invoke(client: httpx.AsyncClient) -> None:
    two = await client.post("/api/keys", json={"name": "k", "scopes": ["author", "admin"]})
    assert two.status_code == 422
    assert "one role" in two.text
    both = await client.post("/api/keys", json={"name": "k", "scopes": ["author", "invoke"]})
    assert both.status_code == 201, both.text
    assert both.json()["scopes"] == ["author", "invoke"]
