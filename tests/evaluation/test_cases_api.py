"""Test case CRUD, validation, and cases synced from the `tests:` of spec files."""

from __future__ import annotations

import httpx

from tests.evaluation.helpers import case_body
from tests.factories import add_version, create_spec, make_document


async def test_case_crud_round_trip(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    created = await api.post("/api/specs/triage/cases", json=case_body(repeat=3))
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["origin"] == "manual"
    assert case["repeat"] == 3
    assert case["expect"] == [{"path": "/team", "equals": "billing"}]
    assert created.headers["Location"] == f"/api/specs/triage/cases/{case['id']}"

    listed = (await api.get("/api/specs/triage/cases")).json()["items"]
    assert [c["name"] for c in listed] == ["refund"]

    updated = await api.put(
        f"/api/specs/triage/cases/{case['id']}",
        json=case_body("refund-2", min_pass_rate=0.5, expect=[{"path": "/team", "exists": True}]),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "refund-2"
    assert updated.json()["min_pass_rate"] == 0.5
    got = (await api.get(f"/api/specs/triage/cases/{case['id']}")).json()
    assert got["expect"] == [{"path": "/team", "exists": True}]

    deleted = await api.delete(f"/api/specs/triage/cases/{case['id']}")
    assert deleted.status_code == 204
    missing = await api.get(f"/api/specs/triage/cases/{case['id']}")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/test-case-not-found")

    audit = (await api.get("/api/audit")).json()["items"]
    changes = [e["details"]["change"] for e in audit if e["action"] == "case.changed"]
    assert sorted(changes) == ["created", "deleted", "updated"]


async def test_case_input_is_validated_against_latest_schema(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    response = await api.post(
        "/api/specs/triage/cases",
        json=case_body(input={"subject": 5}, expect=[{"path": "/summary", "matches": "("}]),
    )
    assert response.status_code == 422, response.text
    pointers = sorted(e["pointer"] for e in response.json()["errors"])
    assert pointers == ["/expect/0/matches", "/input", "/input/subject"]


async def test_case_shape_is_validated(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    response = await api.post(
        "/api/specs/triage/cases", json=case_body(expect=[{"path": "/team", "bogus": 1}])
    )
    assert response.status_code == 422
    bad_repeat = await api.post("/api/specs/triage/cases", json=case_body(repeat=0))
    assert bad_repeat.status_code == 422


async def test_duplicate_case_name_conflicts(api: httpx.AsyncClient) -> None:
    await create_spec(api, "triage")
    assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
    again = await api.post("/api/specs/triage/cases", json=case_body())
    assert again.status_code == 409


async def test_file_tests_are_synced_into_cases(api: httpx.AsyncClient) -> None:
    tests = [
        {
            "name": "refund",
            "input": {"subject": "Refund", "body": "I was charged twice"},
            "expect": [{"path": "/team", "equals": "billing"}],
            "repeat": 2,
        }
    ]
    created = await api.post(
        "/api/specs",
        json={"document": make_document("triage", tests=tests)},
    )
    assert created.status_code == 201
    first = (await api.get("/api/specs/triage/cases")).json()["items"]
    assert [(c["name"], c["origin"], c["repeat"]) for c in first] == [("refund", "file", 2)]

    tests[0]["repeat"] = 4
    await add_version(api, "triage", 1, tests=[*tests, {**tests[0], "name": "other"}])
    second = (await api.get("/api/specs/triage/cases")).json()["items"]
    assert [(c["name"], c["repeat"]) for c in second] == [("other", 4), ("refund", 4)]
    assert second[1]["id"] == first[0]["id"]  # upserted by name, not duplicated
