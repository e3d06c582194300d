"""Input hardening: oversized, mislabelled, malformed, deep and huge-number bodies get 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.factories import make_document
from tests.security.helpers import live_spec

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    status: int
    headers: dict[str, str]


CASES = [
    Case("malformed", b'{"subject": ', 400, JSON),
    Case("nan", b'{"subject": NaN, "body": "b"}', 400, JSON),
    Case("infinity", b'{"subject": "s", "body": -Infinity}', 400, JSON),
    Case("deep", b'{"subject": ' + b"[" * 65 + b"]" * 65 + b', "body": "b"}', 422, JSON),
    Case("very deep", b"[" * 100_000 + b"]" * 100_000, 422, JSON),
    Case("huge float", b'{"subject": 1e999, "body": "b"}', 422, JSON),
    Case("huge integer", b'{"subject": ' + b"9" * 4000 + b', "body": "b"}', 422, JSON),
    Case("form", b"subject=a&body=b", 415, {"content-type": "application/x-www-form-urlencoded"}),
    Case("text", b'{"subject": "a", "body": "b"}', 415, {"content-type": "text/plain"}),
    Case("no type", b'{"subject": "a", "body": "b"}', 415, {}),
    Case("too large", b'{"subject": "' + b"x" * (1024 * 1024) + b'", "body": "b"}', 413, JSON),
    Case("long string", b'{"subject": "s", "body": "' + b"x" * 262_145 + b'"}', 422, JSON),
    Case("long key", b'{"' + b"k" * 262_145 + b'": 1}', 422, JSON),
]


@pytest.mark.parametrize("path", ["/v1/agents/alpha", "/api/specs"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_bodies_get_problem_json(
    client: httpx.AsyncClient, case: Case, path: str
) -> None:
    await live_spec(client, "alpha")
    response = await client.post(path, content=case.body, headers=case.headers)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == case.status
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_a_chunked_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"subject": "'
        for _ in range(64):  # 4 MiB in 64 KiB chunks, with no Content-Length
            sent += 1
            yield b"x" * 65536
        yield b'", "body": "b"}'

    await live_spec(client, "alpha")
    response = await client.post("/v1/agents/alpha", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "content-length" not in response.request.headers
    assert sent < 64  # refused while streaming, not after reading everything


async def test_json_at_the_depth_limit_and_big_but_sane_numbers_pass(
    client: httpx.AsyncClient,
) -> None:
    nested: object = "leaf"
    for _ in range(60):
        nested = {"a": nested}
    document = make_document(
        "alpha",
        examples=[
            {
                "input": {"subject": "Refund", "body": "I was charged twice"},
                "output": {"team": "billing", "priority": "normal", "summary": "x" * 10},
            }
        ],
    )
    response = await client.post("/api/specs", json={"document": document, "message": "1e300"})
    assert response.status_code == 201, response.text
    await client.post("/api/specs/alpha/publish", json={"version": 1})
    call = await client.post(
        "/v1/agents/alpha", json={"subject": "s", "body": "b", "extra": nested, "n": 1e300}
    )
    assert call.status_code == 200, call.text


async def test_get_routes_and_bodyless_posts_are_not_affected(client: httpx.AsyncClient) -> None:
    await live_spec(client, "alpha")
    assert (await client.get("/api/specs")).status_code == 200
    empty = await client.post("/api/specs/alpha/rollback")
    assert empty.status_code == 422  # a missing body is the route's business, not a 415


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/specs/alpha/versions/2147483648", None),
        ("GET", "/api/specs/alpha/versions/99999999999/compiled", None),
        ("GET", "/api/specs/alpha/diff?from=1&to=99999999999", None),
        ("POST", "/api/specs/alpha/publish", {"version": 99999999999}),
        ("POST", "/api/specs/alpha/rollback", {"version": 99999999999}),
        ("POST", "/v1/agents/alpha?version=99999999999", {"subject": "s", "body": "b"}),
        ("POST", "/api/keys", {"name": "nul\u0000", "scopes": ["invoke"]}),
        ("POST", "/v1/agents/alpha", {"subject": "nul\u0000", "body": "b"}),
        ("POST", "/v1/agents/alpha", {"subject": "s", "body": "b", "k\u0000": 1}),
        ("GET", "/api/audit?action=a%00b", None),
    ],
)
async def test_values_postgres_cannot_hold_are_4xx(
    client: httpx.AsyncClient, method: str, url: str, body: object
) -> None:
    """Found by schemathesis: these were 500s (integer out of range, NUL in text)."""
    await live_spec(client, "alpha")
    response = await client.request(method, url, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
