"""The authorization matrix: every route of the app, for every kind of caller and role.

Routes are enumerated from the app itself, so a new route without a row in SAMPLES, or
without a declared role (`requires(...)`, `PUBLIC`, `page(...)`), fails here until someone
decides who may call it. For the roles, what a route declared is what is tested: a role at or
above it gets past authorization (any status but 401/403), a role below it gets 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.main import create_app
from app.security.roles import ROLES, Requirement, requirement_of, satisfies
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.security.helpers import app_routes, live_spec, make_key, routes_with_objects
from tests.security.test_web_matrix import WEB_SAMPLES

AGENT = "alpha"
INPUT = {"subject": "Refund", "body": "I was charged twice"}
NO_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Sample:
    """How to call one route, and the status each kind of caller gets."""

    url: str
    admin: int
    body: Any = None
    invoke: int = 403  # an invoke key (any agent)
    limited: int = 403  # an invoke key limited to another agent
    public: bool = False


SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/healthz"): Sample("/healthz", 200, public=True),
    ("GET", "/readyz"): Sample("/readyz", 200, public=True),
    # Scrapers rarely send bearer tokens; counts and names only, no inputs or outputs.
    ("GET", "/metrics"): Sample("/metrics", 200, public=True),
    ("GET", "/openapi.json"): Sample("/openapi.json", 200, public=True),
    ("GET", "/docs"): Sample("/docs", 200, public=True),
    ("POST", "/api/specs"): Sample("/api/specs", 201, {"document": make_document("beta")}),
    ("GET", "/api/specs"): Sample("/api/specs", 200),
    ("GET", "/api/specs/{name}"): Sample(f"/api/specs/{AGENT}", 200),
    ("POST", "/api/specs/{name}/versions"): Sample(
        f"/api/specs/{AGENT}/versions",
        201,
        {"document": make_document(AGENT, title="Two"), "base_version": 1, "message": "m"},
    ),
    ("GET", "/api/specs/{name}/versions"): Sample(f"/api/specs/{AGENT}/versions", 200),
    ("GET", "/api/specs/{name}/versions/{number}"): Sample(f"/api/specs/{AGENT}/versions/1", 200),
    ("GET", "/api/specs/{name}/versions/{number}/compiled"): Sample(
        f"/api/specs/{AGENT}/versions/1/compiled", 200
    ),
    ("GET", "/api/specs/{name}/diff"): Sample(f"/api/specs/{AGENT}/diff?from=1&to=1", 200),
    ("POST", "/api/specs/{name}/publish"): Sample(
        # forced: the setup's test run may still be going (the gate has its own tests)
        f"/api/specs/{AGENT}/publish",
        200,
        {"version": 1, "force": True, "reason": "matrix"},
    ),
    # Published once: nothing to roll back to, which is past authorization (409, not 401/403).
    ("POST", "/api/specs/{name}/rollback"): Sample(f"/api/specs/{AGENT}/rollback", 409, {}),
    ("GET", "/api/specs/{name}/releases"): Sample(f"/api/specs/{AGENT}/releases", 200),
    # labels, rollouts, shadows: admin only, like publish
    ("GET", "/api/specs/{name}/labels"): Sample(f"/api/specs/{AGENT}/labels", 200),
    ("PUT", "/api/specs/{name}/labels/{label}"): Sample(
        f"/api/specs/{AGENT}/labels/staging", 200, {"version": 1}
    ),
    # No such label: past authorization (404, not 401/403).
    ("DELETE", "/api/specs/{name}/labels/{label}"): Sample(
        f"/api/specs/{AGENT}/labels/staging", 404
    ),
    # Version 1 is live already: nothing to roll out or shadow, past authorization.
    ("POST", "/api/specs/{name}/rollouts"): Sample(
        f"/api/specs/{AGENT}/rollouts",
        409,
        {"version": 1, "percent": 10, "guard": {"max_failure_rate": 0.1, "min_calls": 5}},
    ),
    ("GET", "/api/specs/{name}/rollouts"): Sample(f"/api/specs/{AGENT}/rollouts", 200),
    ("GET", "/api/specs/{name}/rollouts/{rollout_id}"): Sample(
        f"/api/specs/{AGENT}/rollouts/{NO_ID}", 404
    ),
    ("POST", "/api/specs/{name}/rollouts/{rollout_id}/promote"): Sample(
        f"/api/specs/{AGENT}/rollouts/{NO_ID}/promote", 404
    ),
    ("POST", "/api/specs/{name}/rollouts/{rollout_id}/abort"): Sample(
        f"/api/specs/{AGENT}/rollouts/{NO_ID}/abort", 404
    ),
    ("POST", "/api/specs/{name}/shadows"): Sample(
        f"/api/specs/{AGENT}/shadows", 409, {"version": 1, "sample": 0.5}
    ),
    ("GET", "/api/specs/{name}/shadows"): Sample(f"/api/specs/{AGENT}/shadows", 200),
    ("GET", "/api/specs/{name}/shadows/{shadow_id}"): Sample(
        f"/api/specs/{AGENT}/shadows/{NO_ID}", 404
    ),
    ("POST", "/api/specs/{name}/shadows/{shadow_id}/stop"): Sample(
        f"/api/specs/{AGENT}/shadows/{NO_ID}/stop", 404
    ),
    # the model matrix: admin only; a version that does not exist is past authorization
    ("POST", "/api/specs/{name}/versions/{number}/model-matrix"): Sample(
        f"/api/specs/{AGENT}/versions/99/model-matrix", 404, {}
    ),
    ("GET", "/api/specs/{name}/model-matrix"): Sample(f"/api/specs/{AGENT}/model-matrix", 200),
    ("GET", "/api/specs/{name}/model-matrix/{matrix_id}"): Sample(
        f"/api/specs/{AGENT}/model-matrix/{NO_ID}", 404
    ),
    ("POST", "/v1/agents/{name}"): Sample(f"/v1/agents/{AGENT}", 200, INPUT, invoke=200),
    ("GET", "/v1/agents/{name}/openapi.json"): Sample(
        f"/v1/agents/{AGENT}/openapi.json", 200, invoke=200
    ),
    # The invoke key made this execution; a key limited elsewhere must not learn it exists.
    ("GET", "/v1/executions/{execution_id}"): Sample(
        "/v1/executions/{execution_id}", 200, invoke=200, limited=404
    ),
    ("GET", "/api/executions"): Sample("/api/executions", 200),
    ("GET", "/api/models"): Sample("/api/models", 200),
    ("POST", "/api/models/check"): Sample("/api/models/check", 200),
    ("GET", "/api/usage"): Sample("/api/usage", 200),
    ("GET", "/api/dead-letters"): Sample("/api/dead-letters", 200),
    ("GET", "/api/budgets"): Sample("/api/budgets", 200),
    ("POST", "/api/budgets"): Sample(
        "/api/budgets", 201, {"scope": "agent", "agent": AGENT, "period": "month", "limit_usd": 5}
    ),
    ("DELETE", "/api/budgets/{budget_id}"): Sample("/api/budgets/{budget_id}", 204),
    ("POST", "/api/keys"): Sample("/api/keys", 201, {"name": "new", "scopes": ["invoke"]}),
    ("GET", "/api/keys"): Sample("/api/keys", 200),
    ("DELETE", "/api/keys/{key_id}"): Sample("/api/keys/{key_id}", 204),
    ("GET", "/api/audit"): Sample("/api/audit", 200),
    # MCP: any invoke key; a key limited to other agents lists (and may call) only those.
    ("POST", "/mcp"): Sample(
        "/mcp",
        200,
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        invoke=200,
        limited=200,
    ),
    # test cases and runs
    ("GET", "/api/specs/{name}/cases"): Sample(f"/api/specs/{AGENT}/cases", 200),
    ("POST", "/api/specs/{name}/cases"): Sample(
        f"/api/specs/{AGENT}/cases", 201, {"name": "new-case", "input": INPUT}
    ),
    ("GET", "/api/specs/{name}/cases/{case_id}"): Sample(
        f"/api/specs/{AGENT}/cases/{{case_id}}", 200
    ),
    ("PUT", "/api/specs/{name}/cases/{case_id}"): Sample(
        f"/api/specs/{AGENT}/cases/{{case_id}}", 200, {"name": "renamed", "input": INPUT}
    ),
    ("DELETE", "/api/specs/{name}/cases/{case_id}"): Sample(
        f"/api/specs/{AGENT}/cases/{{case_id}}", 204
    ),
    ("POST", "/api/specs/{name}/versions/{number}/test-runs"): Sample(
        f"/api/specs/{AGENT}/versions/1/test-runs", 202
    ),
    ("GET", "/api/test-runs/{run_id}"): Sample("/api/test-runs/{run_id}", 200),
    ("GET", "/api/test-runs/{run_id}/compare"): Sample("/api/test-runs/{run_id}/compare", 200),
    ("POST", "/api/specs/{name}/cases/generate"): Sample(
        f"/api/specs/{AGENT}/cases/generate", 200, {"kinds": ["schema"]}
    ),
    ("GET", "/api/specs/{name}/coverage"): Sample(f"/api/specs/{AGENT}/coverage", 200),
    ("POST", "/api/executions/{execution_id}/promote"): Sample(
        "/api/executions/{execution_id}/promote", 200, {"name": "promoted-case"}
    ),
    # jobs: an invoke key sees its own jobs; others' are 404, not 403
    ("POST", "/v1/agents/{name}/jobs"): Sample(
        f"/v1/agents/{AGENT}/jobs", 202, {"input": INPUT}, invoke=202
    ),
    ("GET", "/v1/jobs/{job_id}"): Sample("/v1/jobs/{job_id}", 200, invoke=200, limited=404),
    ("GET", "/v1/jobs/{job_id}/results"): Sample(
        "/v1/jobs/{job_id}/results", 200, invoke=200, limited=404
    ),
    ("POST", "/v1/jobs/{job_id}/cancel"): Sample(
        "/v1/jobs/{job_id}/cancel", 200, invoke=200, limited=404
    ),
    ("GET", "/api/jobs"): Sample("/api/jobs", 200),
    # people (admin)
    ("POST", "/api/people/invitations"): Sample(
        "/api/people/invitations", 201, {"email": "x@example.com", "role": "author"}
    ),
    ("GET", "/api/people/invitations"): Sample("/api/people/invitations", 200),
    ("GET", "/api/people"): Sample("/api/people", 200),
    ("DELETE", "/api/people/invitations/{invitation_id}"): Sample(
        f"/api/people/invitations/{NO_ID}", 404
    ),
    ("PATCH", "/api/people/{person_id}"): Sample(f"/api/people/{NO_ID}", 404, {"role": "viewer"}),
    # guardrails and release requests (an unknown request: past authorization, a 404)
    ("GET", "/api/specs/{name}/guardrails"): Sample(f"/api/specs/{AGENT}/guardrails", 200),
    ("PUT", "/api/specs/{name}/guardrails"): Sample(f"/api/specs/{AGENT}/guardrails", 200, {}),
    ("GET", "/api/specs/{name}/release-requests"): Sample(
        f"/api/specs/{AGENT}/release-requests", 200
    ),
    ("GET", "/api/specs/{name}/release-requests/{request_id}"): Sample(
        f"/api/specs/{AGENT}/release-requests/{NO_ID}", 404
    ),
    ("POST", "/api/specs/{name}/release-requests/{request_id}/approve"): Sample(
        f"/api/specs/{AGENT}/release-requests/{NO_ID}/approve", 404, {}
    ),
    ("POST", "/api/specs/{name}/release-requests/{request_id}/reject"): Sample(
        f"/api/specs/{AGENT}/release-requests/{NO_ID}/reject", 404, {}
    ),
}

_APP = create_app(Settings(database_url="postgresql://unused/x", admin_key="x"))
ALL_ROUTES = sorted(set(app_routes(_APP)))
# Web pages take a session cookie, not bearer keys: tests/security/test_web_matrix.py.
ROUTES = [route for route in ALL_ROUTES if route not in WEB_SAMPLES]


def declared_roles(app: FastAPI) -> dict[tuple[str, str], Requirement | None]:
    """(method, path) → what the route declared it requires (None: nothing)."""
    return {
        (method, path): requirement_of(route) for method, path, route in routes_with_objects(app)
    }


DECLARED = declared_roles(_APP)


def test_every_route_declares_the_role_it_needs() -> None:
    assert set(DECLARED) == set(ALL_ROUTES)
    undeclared = sorted(route for route, need in DECLARED.items() if need is None)
    assert not undeclared, (
        "declare who may call these routes: dependencies=[requires(role)] (or PUBLIC, or "
        f"page(role) for a page): {undeclared}"
    )
    public = {route for route, need in DECLARED.items() if need == "public"}
    pages = {route for route in public if route[1].startswith("/ui/")}
    assert public - pages == {
        ("GET", "/"),
        ("GET", "/docs"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/readyz"),
    }
    # signing in (and joining) only; every other page needs a role
    assert all(p.startswith(("/ui/login", "/ui/logout", "/ui/invite", "/ui/sso")) for _, p in pages)


def test_the_declarations_are_the_ones_intended() -> None:
    """A few anchors, so a slip in a declaration shows here by name."""
    assert DECLARED[("POST", "/api/specs/{name}/publish")] == "publisher"
    assert DECLARED[("POST", "/api/specs/{name}/rollback")] == "publisher"
    assert DECLARED[("POST", "/api/specs/{name}/versions")] == "author"
    assert DECLARED[("POST", "/api/specs/{name}/versions/{number}/test-runs")] == "author"
    assert DECLARED[("GET", "/api/specs/{name}/versions")] == "viewer"
    assert DECLARED[("POST", "/api/keys")] == "admin"
    assert DECLARED[("POST", "/v1/agents/{name}")] == "invoke"
    assert DECLARED[("POST", "/ui/agents/{name}/publish")] == "publisher"
    assert DECLARED[("POST", "/ui/agents/{name}/edit")] == "author"


def test_the_openapi_document_states_each_operations_role() -> None:
    from fastapi.openapi.utils import get_openapi

    from app.serving.openapi import _add_roles

    document = get_openapi(title="t", version="1", routes=_APP.routes)
    _add_roles(document, _APP)
    operations = [
        (m.upper(), p, op) for p, ops in document["paths"].items() for m, op in ops.items()
    ]
    assert len(operations) >= 30
    for method, path, operation in operations:
        need = DECLARED[(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path))]
        assert operation["x-required-role"] == need, (method, path)
        assert f"Required role: `{need}`" in operation["description"] or need == "public"
    publish = document["paths"]["/api/specs/{name}/publish"]["post"]
    assert publish["description"].endswith("Required role: `publisher` (or `admin`).")


def test_every_route_has_a_sample() -> None:
    missing = [route for route in ALL_ROUTES if route not in SAMPLES and route not in WEB_SAMPLES]
    assert not missing, f"add these routes to SAMPLES (and decide who may call them): {missing}"
    assert len(ROUTES) >= 28


async def _setup(client: httpx.AsyncClient) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Callers (as headers) and the ids the sample URLs refer to."""
    await live_spec(client, AGENT)
    invoke = await make_key(client, "invoke", name="invoker")
    limited = await make_key(client, "invoke", name="limited", agents=["other-agent"])
    roles = {role: await make_key(client, role, name=role) for role in ROLES[:-1]}
    revoked = await make_key(client, "admin", name="revoked")
    assert (await client.delete(f"/api/keys/{revoked.id}")).status_code == 204
    spare = await make_key(client, "invoke", name="spare")
    budget = await client.post(
        "/api/budgets", json={"scope": "global", "period": "day", "limit_usd": 100}
    )
    assert budget.status_code == 201, budget.text
    call = await client.post(f"/v1/agents/{AGENT}", json=INPUT, headers=invoke.headers)
    assert call.status_code == 200, call.text
    case = await client.post(f"/api/specs/{AGENT}/cases", json={"name": "c", "input": INPUT})
    assert case.status_code == 201, case.text
    run = await client.post(f"/api/specs/{AGENT}/versions/1/test-runs")
    assert run.status_code == 202, run.text
    job = await client.post(
        f"/v1/agents/{AGENT}/jobs", json={"input": INPUT}, headers=invoke.headers
    )
    assert job.status_code == 202, job.text
    callers = {
        "no key": {"Authorization": ""},
        "bad key": {"Authorization": "Bearer sk-sl-not-a-key"},
        "revoked key": revoked.headers,
        "invoke key": invoke.headers,
        "invoke key for another agent": limited.headers,
        **{f"{role} key": key.headers for role, key in roles.items()},
        "admin key": {"Authorization": f"Bearer {ADMIN_KEY}"},
    }
    ids = {
        "execution_id": call.headers["x-specloom-execution-id"],
        "budget_id": budget.json()["id"],
        "key_id": spare.id,
        "case_id": case.json()["id"],
        "run_id": run.json()["id"],
        "job_id": job.json()["id"],
    }
    return callers, ids


def _expected(sample: Sample, caller: str, need: Requirement | None) -> int | None:
    """The status `caller` gets; None: anything past authorization (not 401 or 403)."""
    if sample.public:
        return sample.admin
    role = caller.removesuffix(" key")
    if role in ROLES[:-1]:
        return None if need is not None and satisfies({role}, need) else 403
    return {
        "no key": 401,
        "bad key": 401,
        "revoked key": 401,
        "invoke key": sample.invoke,
        "invoke key for another agent": sample.limited,
        "admin key": sample.admin,
    }[caller]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_authorization_matrix(client: httpx.AsyncClient, method: str, path: str) -> None:
    sample = SAMPLES[(method, path)]
    callers, ids = await _setup(client)
    url = sample.url.format(**ids)
    need = DECLARED[(method, path)]
    wrong: list[str] = []

    # Refusals first, then the admin (its status is exact), then the roles let in, which may
    # find the state the admin's call left (a spec created twice is a 409).
    def phase(caller: str) -> int:
        if caller == "admin key":
            return 1
        return 2 if _expected(sample, caller, need) is None else 0

    order = sorted(callers, key=phase)
    for caller in order:
        headers = callers[caller]
        response = await client.request(method, url, json=sample.body, headers=headers)
        expected = _expected(sample, caller, need)
        if expected is None:
            if response.status_code in (401, 403):
                wrong.append(f"{caller}: {response.status_code}, but {need!r} lets it in")
            continue
        if response.status_code != expected:
            wrong.append(f"{caller}: {response.status_code} (expected {expected}) {response.text}")
            continue
        if expected in (401, 403):
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == expected
        if expected == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    assert not wrong, f"{method} {path}:\n" + "\n".join(wrong)


async def test_static_files_need_no_key(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        response = await anonymous.get("/static/swagger-ui/swagger-ui.css")
    assert response.status_code == 200
