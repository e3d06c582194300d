"""The management API for specs and versions, good paths and bad."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.factories import add_version, create_spec, make_document

PROBLEM = "application/problem+json"


async def test_create_spec_makes_version_one(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/specs", json={"document": make_document()})
    assert response.status_code == 201
    assert response.headers["location"] == "/api/specs/ticket-triage"
    body = response.json()
    assert body["name"] == "ticket-triage"
    assert body["title"] == "Support ticket triage"
    assert body["latest_version"] == 1
    assert body["live_version"] is None

    version = (await client.get("/api/specs/ticket-triage/versions/1")).json()
    assert version["version"] == 1
    assert version["parent_version"] is None
    assert version["author"] == "bootstrap-admin"
    assert version["document"]["rules"] == make_document()["rules"]
    assert len(version["content_hash"]) == 64


async def test_list_and_get_specs(client: httpx.AsyncClient) -> None:
    await create_spec(client, "b-agent")
    await create_spec(client, "a-agent")
    listed = (await client.get("/api/specs")).json()["items"]
    assert [s["name"] for s in listed] == ["a-agent", "b-agent"]
    assert (await client.get("/api/specs/a-agent")).json()["latest_version"] == 1


async def test_duplicate_name_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    response = await client.post("/api/specs", json={"document": make_document()})
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert "already exists" in response.json()["detail"]


@dataclass(frozen=True)
class BadDocument:
    id: str
    overrides: dict[str, Any]
    pointer: str
    message: str
    name: str = "ticket-triage"
    extra: dict[str, Any] = field(default_factory=dict)


BAD_DOCUMENTS = [
    BadDocument("bad slug", {}, "/document/name", "pattern", name="Ticket_Triage"),
    BadDocument("slug too short", {}, "/document/name", "pattern", name="a"),
    BadDocument(
        "invalid json schema",
        {"output_schema": {"type": "object", "properties": {"x": {"type": "strnig"}}}},
        "/document/output_schema/properties/x/type",
        "not a valid JSON Schema",
    ),
    BadDocument(
        "non-object root",
        {"input_schema": {"type": "array", "items": {"type": "string"}}},
        "/document/input_schema/type",
        "must be",
    ),
    BadDocument("empty rule", {"rules": ["ok", "   "]}, "/document/rules/1", "must not be empty"),
    BadDocument("rule not a string", {"rules": [42]}, "/document/rules/0", "string"),
    BadDocument(
        "example breaks the output schema",
        {
            "examples": [
                {
                    "input": {"subject": "s", "body": "b"},
                    "output": {"team": "legal", "priority": "low", "summary": "x"},
                }
            ]
        },
        "/document/examples/0/output/team",
        "does not follow output_schema",
    ),
    BadDocument(
        "example misses a required input",
        {"examples": [{"input": {"subject": "s"}, "output": {}}]},
        "/document/examples/0/input",
        "'body' is a required property",
    ),
    BadDocument("unknown field", {"prompt": "hi"}, "/document/prompt", "Extra inputs"),
    BadDocument("missing title", {"title": ""}, "/document/title", "at least 1 character"),
    BadDocument(
        "too many rules", {"rules": [f"rule {i}" for i in range(101)]}, "/document/rules", "at most"
    ),
    BadDocument(
        "schema nested too deep",
        {
            "input_schema": {
                "type": "object",
                "properties": {"a": {"items": [[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}},
            }
        },
        "/document/input_schema",
        "",
    ),
    BadDocument(
        "oversized document",
        {
            "examples": [
                {
                    "input": {"subject": "s", "body": "x" * 10_000},
                    "output": {"team": "sales", "priority": "low", "summary": "s"},
                }
            ]
            * 30
        },
        "",
        "bytes; the limit is",
    ),
]


@pytest.mark.parametrize("case", BAD_DOCUMENTS, ids=lambda c: c.id)
async def test_invalid_documents_are_422_with_pointers(
    client: httpx.AsyncClient, case: BadDocument
) -> None:
    document = make_document(case.name, **case.overrides)
    response = await client.post("/api/specs", json={"document": document})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("/invalid-spec-document") or problem["type"].endswith(
        "/invalid-input"
    )
    matching = [e for e in problem["errors"] if e["pointer"].startswith(case.pointer or "/")]
    if case.pointer == "":
        matching = problem["errors"]
    assert matching, problem["errors"]
    assert any(case.message in e["message"] for e in matching), problem["errors"]
    assert (await client.get("/api/specs")).json()["items"] == []


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/specs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_unknown_spec_and_version_are_404(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/specs/nope-nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert "nope-nope" in missing.json()["detail"]
    await create_spec(client)
    version = await client.get("/api/specs/ticket-triage/versions/7")
    assert version.status_code == 404
    assert "no version 7" in version.json()["detail"]


async def test_new_version_on_latest_base(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    created = await add_version(client, "ticket-triage", 1, title="Ticket triage v2")
    assert created["version"] == 2
    assert created["parent_version"] == 1
    spec = (await client.get("/api/specs/ticket-triage")).json()
    assert spec["latest_version"] == 2
    assert spec["title"] == "Ticket triage v2"
    listed = (await client.get("/api/specs/ticket-triage/versions")).json()["items"]
    assert [v["version"] for v in listed] == [1, 2]


async def test_stale_base_version_is_409_with_latest(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    await add_version(client, "ticket-triage", 1)
    response = await client.post(
        "/api/specs/ticket-triage/versions",
        json={"document": make_document(), "base_version": 1, "message": "late"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["latest_version"] == 2


async def test_twenty_concurrent_writers_exactly_one_wins(client: httpx.AsyncClient) -> None:
    await create_spec(client)

    async def write(i: int) -> int:
        response = await client.post(
            "/api/specs/ticket-triage/versions",
            json={
                "document": make_document(description=f"writer {i}"),
                "base_version": 1,
                "message": f"writer {i}",
            },
        )
        return response.status_code

    codes = await asyncio.gather(*(write(i) for i in range(20)))
    assert sorted(codes) == [201] + [409] * 19
    versions = (await client.get("/api/specs/ticket-triage/versions")).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]


async def test_version_document_must_keep_the_name(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    response = await client.post(
        "/api/specs/ticket-triage/versions",
        json={"document": make_document("other-name"), "base_version": 1},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/document/name"


async def test_content_hash_is_stable_for_equal_documents(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    reordered = dict(reversed(list(make_document().items())))
    same = await client.post(
        "/api/specs/ticket-triage/versions",
        json={"document": reordered, "base_version": 1},
    )
    assert same.status_code == 201
    await add_version(client, "ticket-triage", 2, description="changed")
    hashes = [
        (await client.get(f"/api/specs/ticket-triage/versions/{n}")).json()["content_hash"]
        for n in (1, 2, 3)
    ]
    assert hashes[0] == hashes[1]
    assert hashes[2] != hashes[0]


async def test_diff_lists_changes_by_pointer(client: httpx.AsyncClient) -> None:
    await create_spec(client)
    rules = [*make_document()["rules"], "Sales leads go to sales."]
    await add_version(client, "ticket-triage", 1, rules=rules, description="New")
    diff = (await client.get("/api/specs/ticket-triage/diff", params={"from": 1, "to": 2})).json()
    changes = {(c["op"], c["path"]): c for c in diff["changes"]}
    assert ("replace", "/description") in changes
    assert changes[("replace", "/description")]["after"] == "New"
    assert ("replace", "/rules") in changes
    assert changes[("replace", "/rules")]["after"][-1] == "Sales leads go to sales."
    missing = await client.get("/api/specs/ticket-triage/diff", params={"from": 1, "to": 9})
    assert missing.status_code == 404
