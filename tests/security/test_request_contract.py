"""Requests are held to the OpenAPI document: what it calls invalid is refused, not coerced.

Each case here is one schemathesis found with `--checks all` before the fix.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import make_document
from tests.security.helpers import live_spec


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/specs/alpha/publish", {"version": 1, "force": 0}, "/force"),
        ("/api/specs/alpha/publish", {"version": "1"}, "/version"),
        ("/api/budgets", {"scope": "global", "period": "day", "limit_usd": "5 USD"}, "/limit_usd"),
        ("/api/keys", {"name": "k", "scopes": ["invoke"], "rpm": "60"}, "/rpm"),
        (
            "/api/specs/alpha/cases",
            {"name": "c", "input": {"subject": "s", "body": "b"}, "expect": [{"exists": 0}]},
            "/expect/0/exists",
        ),
    ],
    ids=["bool-from-int", "int-from-string", "money-from-text", "rpm-from-string", "nested"],
)
async def test_lax_coercions_are_refused(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], pointer: str
) -> None:
    await live_spec(client, "alpha")
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()


async def test_a_spec_document_with_a_lax_value_is_refused(client: httpx.AsyncClient) -> None:
    document = make_document("alpha")
    document["model"] = {"temperature": "0.5"}
    response = await client.post("/api/specs", json={"document": document})
    assert response.status_code == 422, response.text
    assert "/document/model/temperature" in [e["pointer"] for e in response.json()["errors"]]


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
async def test_timestamps_are_iso_8601_only(client: httpx.AsyncClient, value: str) -> None:
    for path in ("/api/usage", "/api/executions"):
        response = await client.get(path, params={"until": value})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["pointer"] == "query:/until"


async def test_an_iso_timestamp_filters(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/usage", params={"until": "2000-01-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("path", ["/api/executions?agent=", "/api/audit?cursor="])
async def test_empty_filters_are_refused(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/specs", {"GET", "POST"}),
        ("/api/specs/alpha/cases", {"GET", "POST"}),
        ("/api/budgets", {"GET", "POST"}),
        ("/api/keys", {"GET", "POST"}),
    ],
)
async def test_405_names_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allowed: set[str]
) -> None:
    response = await client.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize(
    "limit", [99_999_999.99999999, 1.7976931348623157e308, 1e-07, "1e5", "", True, 0]
)
async def test_money_outside_the_column_is_refused_not_a_500(
    client: httpx.AsyncClient, limit: Any
) -> None:
    body = {"scope": "global", "period": "day", "limit_usd": limit}
    response = await client.post("/api/budgets", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "/limit_usd"


@pytest.mark.parametrize(("limit", "stored"), [("12.50", 12.5), (3, 3.0), (0.1234567, 0.123457)])
async def test_money_as_number_or_decimal_string(
    client: httpx.AsyncClient, limit: Any, stored: float
) -> None:
    body = {"scope": "global", "period": "day", "limit_usd": limit}
    response = await client.post("/api/budgets", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["limit_usd"] == stored
