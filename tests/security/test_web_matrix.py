"""The web app's side of the authorization matrix: pages use a signed session cookie, never
bearer keys. Without a session every page redirects to the login form (whatever key is sent);
with an admin session every page answers; every POST needs the session's CSRF token; an
invoke key cannot sign in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer

from app.security.roles import ROLES, requirement_of, satisfies
from tests.conftest import ADMIN_KEY
from tests.security.helpers import live_spec, make_key, routes_with_objects

AGENT = "alpha"
INPUT = {"subject": "Refund", "body": "I was charged twice"}
NO_ID = "00000000-0000-4000-8000-000000000000"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class WebSample:
    """A page route: its URL, a form for POSTs, and what a signed-in admin gets."""

    url: str
    signed_in: int = 200
    form: dict[str, str] | None = None
    public: bool = False  # reachable without a session (the login form itself)


WEB_SAMPLES: dict[tuple[str, str], WebSample] = {
    ("GET", "/"): WebSample("/", 307, public=True),
    ("GET", "/ui/login"): WebSample("/ui/login", 200, public=True),
    ("POST", "/ui/login"): WebSample("/ui/login", 401, {"key": "sk-sl-wrong"}, public=True),
    ("POST", "/ui/logout"): WebSample("/ui/logout", 303, public=True),
    ("GET", "/ui"): WebSample("/ui"),
    ("GET", "/ui/agents/new"): WebSample("/ui/agents/new"),
    ("POST", "/ui/agents/new"): WebSample("/ui/agents/new", 422, {"name": "Bad Name"}),
    ("GET", "/ui/agents/{name}"): WebSample(f"/ui/agents/{AGENT}", 303),
    ("GET", "/ui/agents/{name}/versions"): WebSample(f"/ui/agents/{AGENT}/versions"),
    ("GET", "/ui/agents/{name}/edit"): WebSample(f"/ui/agents/{AGENT}/edit"),
    ("POST", "/ui/agents/{name}/edit"): WebSample(f"/ui/agents/{AGENT}/edit", 422, {}),
    ("POST", "/ui/schema-section"): WebSample(
        "/ui/schema-section", 200, {"section": "input", "to": "json"}
    ),
    ("POST", "/ui/checks-preview"): WebSample("/ui/checks-preview", 200, {"checks": "[]"}),
    ("GET", "/ui/agents/{name}/diff"): WebSample(f"/ui/agents/{AGENT}/diff?from=1&to=1"),
    ("POST", "/ui/agents/{name}/publish"): WebSample(
        f"/ui/agents/{AGENT}/publish", 303, {"version": "1", "force": "true", "reason": "m"}
    ),
    # published once: nothing to roll back to, shown on the page
    ("POST", "/ui/agents/{name}/rollback"): WebSample(f"/ui/agents/{AGENT}/rollback", 409, {}),
    ("GET", "/ui/agents/{name}/models"): WebSample(f"/ui/agents/{AGENT}/models"),
    ("POST", "/ui/agents/{name}/models/run"): WebSample(
        f"/ui/agents/{AGENT}/models/run", 404, {"version": "99"}
    ),
    ("POST", "/ui/agents/{name}/models/use"): WebSample(
        f"/ui/agents/{AGENT}/models/use", 404, {"version": "99", "model": "fast"}
    ),
    ("GET", "/ui/agents/{name}/releases"): WebSample(f"/ui/agents/{AGENT}/releases"),
    ("POST", "/ui/agents/{name}/labels"): WebSample(
        f"/ui/agents/{AGENT}/labels", 303, {"label": "staging", "version": "1"}
    ),
    ("POST", "/ui/agents/{name}/labels/{label}/remove"): WebSample(
        f"/ui/agents/{AGENT}/labels/gone/remove", 404, {}
    ),
    # version 1 is live: nothing to roll out or shadow, shown on the page
    ("POST", "/ui/agents/{name}/rollouts"): WebSample(
        f"/ui/agents/{AGENT}/rollouts",
        409,
        {"version": "1", "percent": "10", "max_failure_rate": "0.1", "min_calls": "5"},
    ),
    ("POST", "/ui/agents/{name}/rollouts/{rollout_id}/{verb}"): WebSample(
        f"/ui/agents/{AGENT}/rollouts/{NO_ID}/abort", 404, {}
    ),
    ("POST", "/ui/agents/{name}/shadows"): WebSample(
        f"/ui/agents/{AGENT}/shadows", 409, {"version": "1", "sample": "0.5"}
    ),
    ("POST", "/ui/agents/{name}/shadows/{shadow_id}/stop"): WebSample(
        f"/ui/agents/{AGENT}/shadows/{NO_ID}/stop", 404, {}
    ),
    ("GET", "/ui/agents/{name}/tests"): WebSample(f"/ui/agents/{AGENT}/tests"),
    ("POST", "/ui/agents/{name}/test-runs"): WebSample(f"/ui/agents/{AGENT}/test-runs", 303, {}),
    ("POST", "/ui/agents/{name}/cases/generate"): WebSample(
        f"/ui/agents/{AGENT}/cases/generate", 303, {}
    ),
    ("POST", "/ui/executions/{execution_id}/promote"): WebSample(
        "/ui/executions/{execution_id}/promote", 200, {}
    ),
    ("GET", "/ui/agents/{name}/cases/new"): WebSample(f"/ui/agents/{AGENT}/cases/new"),
    ("POST", "/ui/agents/{name}/cases/new"): WebSample(
        f"/ui/agents/{AGENT}/cases/new", 422, {"name": "x", "input": "{not json"}
    ),
    ("GET", "/ui/agents/{name}/cases/{case_id}"): WebSample(
        f"/ui/agents/{AGENT}/cases/{{case_id}}"
    ),
    ("POST", "/ui/agents/{name}/cases/{case_id}"): WebSample(
        f"/ui/agents/{AGENT}/cases/{{case_id}}", 422, {"name": "", "input": "{}"}
    ),
    ("POST", "/ui/agents/{name}/cases/{case_id}/delete"): WebSample(
        f"/ui/agents/{AGENT}/cases/{{case_id}}/delete", 303, {}
    ),
    ("GET", "/ui/test-runs/{run_id}"): WebSample("/ui/test-runs/{run_id}"),
    ("GET", "/ui/test-runs/{run_id}/progress"): WebSample("/ui/test-runs/{run_id}/progress"),
    ("GET", "/ui/agents/{name}/playground"): WebSample(f"/ui/agents/{AGENT}/playground"),
    ("POST", "/ui/agents/{name}/playground"): WebSample(
        f"/ui/agents/{AGENT}/playground", 200, {"in.subject": "Refund", "in.body": "twice"}
    ),
    ("GET", "/ui/executions"): WebSample("/ui/executions"),
    ("GET", "/ui/agents/{name}/executions"): WebSample(f"/ui/agents/{AGENT}/executions"),
    ("GET", "/ui/executions/{execution_id}"): WebSample("/ui/executions/{execution_id}"),
    ("GET", "/ui/jobs"): WebSample("/ui/jobs?agent=alpha&status=queued"),
    ("GET", "/ui/jobs/{job_id}"): WebSample("/ui/jobs/{job_id}"),
    ("GET", "/ui/jobs/{job_id}/results"): WebSample("/ui/jobs/{job_id}/results"),
    ("GET", "/ui/agents/{name}/api"): WebSample(f"/ui/agents/{AGENT}/api"),
    ("GET", "/ui/agents/{name}/openapi.json"): WebSample(f"/ui/agents/{AGENT}/openapi.json"),
    ("GET", "/ui/audit"): WebSample("/ui/audit"),
    ("GET", "/ui/models"): WebSample("/ui/models"),
    ("POST", "/ui/models/check"): WebSample("/ui/models/check", 303, {}),
    ("GET", "/ui/keys"): WebSample("/ui/keys"),
    ("POST", "/ui/keys"): WebSample("/ui/keys", 200, {"name": "new", "scope": "invoke"}),
    ("POST", "/ui/keys/{key_id}/revoke"): WebSample("/ui/keys/{key_id}/revoke", 303, {}),
    # people: joining and signing in need no session; the People page is the admins'
    ("GET", "/ui/invite"): WebSample("/ui/invite?token=nope", 410, public=True),
    ("POST", "/ui/invite"): WebSample("/ui/invite", 410, {"token": "nope"}, public=True),
    ("POST", "/ui/login/password"): WebSample(
        "/ui/login/password", 401, {"email": "a@b.c", "password": "wrong"}, public=True
    ),
    ("GET", "/ui/sso/start"): WebSample("/ui/sso/start", 404, public=True),  # no SSO set up
    ("GET", "/ui/sso/callback"): WebSample("/ui/sso/callback", 403, public=True),
    ("GET", "/ui/people"): WebSample("/ui/people"),
    ("POST", "/ui/people/invite"): WebSample(
        "/ui/people/invite", 200, {"email": "new@example.com", "role": "author"}
    ),
    ("POST", "/ui/people/{person_id}"): WebSample(f"/ui/people/{NO_ID}", 404, {"role": "viewer"}),
    ("POST", "/ui/agents/{name}/release-requests/{request_id}/{decision}"): WebSample(
        f"/ui/agents/{AGENT}/release-requests/{NO_ID}/approve", 404, {}
    ),
    ("POST", "/ui/agents/{name}/guardrails"): WebSample(f"/ui/agents/{AGENT}/guardrails", 303, {}),
}


@pytest.fixture
async def browser_like(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client with no bearer key, like a browser."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, key: str) -> tuple[httpx.Response, str]:
    """Post the login form with `key`; returns the answer and the session's CSRF token."""
    form = await http.get("/ui/login")
    token = _CSRF.search(form.text)
    assert token is not None
    answer = await http.post("/ui/login", data={"key": key, "csrf_token": token.group(1)})
    page = await http.get("/ui")
    fresh = _CSRF.search(page.text) if page.status_code == 200 else token
    assert fresh is not None
    return answer, fresh.group(1)


async def _ids(client: httpx.AsyncClient) -> dict[str, str]:
    await live_spec(client, AGENT)
    spare = await make_key(client, "invoke", name="spare")
    call = await client.post(f"/v1/agents/{AGENT}", json=INPUT)
    assert call.status_code == 200, call.text
    case = await client.post(f"/api/specs/{AGENT}/cases", json={"name": "c", "input": INPUT})
    assert case.status_code == 201, case.text
    run = await client.post(f"/api/specs/{AGENT}/versions/1/test-runs")
    assert run.status_code == 202, run.text
    job = await client.post(f"/v1/agents/{AGENT}/jobs", json={"inputs": [INPUT]})
    assert job.status_code == 202, job.text
    return {
        "job_id": job.json()["id"],
        "execution_id": call.headers["x-specloom-execution-id"],
        "key_id": spare.id,
        "case_id": case.json()["id"],
        "run_id": run.json()["id"],
    }


async def test_web_routes_need_a_session_and_csrf(
    client: httpx.AsyncClient, browser_like: httpx.AsyncClient
) -> None:
    ids = await _ids(client)
    wrong: list[str] = []
    for (method, _), sample in WEB_SAMPLES.items():
        url = sample.url.format(**ids)
        # no session: bearer keys (even the admin's) open no page
        answer = await browser_like.request(
            method, url, data=sample.form, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        if not sample.public:
            redirected = answer.status_code == 303 and answer.headers["location"].startswith(
                "/ui/login?next="
            )
            if method == "POST":  # no session, so no CSRF token either: refused either way
                redirected = redirected or answer.status_code == 403
            if not redirected:
                wrong.append(f"no session {method} {url}: {answer.status_code}")
    _, token = await sign_in(browser_like, ADMIN_KEY)
    for (method, _), sample in WEB_SAMPLES.items():
        if sample.url == "/ui/logout":
            continue  # would end the session the other rows use; checked below
        url = sample.url.format(**ids)
        if method == "POST":
            refused = await browser_like.post(url, data=sample.form or {})
            if refused.status_code != 403 or "problem+json" not in refused.headers.get(
                "content-type", ""
            ):
                wrong.append(f"no CSRF {method} {url}: {refused.status_code}")
            answer = await browser_like.post(url, data={**(sample.form or {}), "csrf_token": token})
        else:
            answer = await browser_like.get(url)
        if answer.status_code != sample.signed_in:
            wrong.append(f"signed in {method} {url}: {answer.status_code} != {sample.signed_in}")
    out = await browser_like.post("/ui/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await browser_like.get("/ui")).status_code == 303
    assert not wrong, "\n".join(wrong)


async def test_each_role_sees_the_pages_it_may_use_and_is_refused_the_rest(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Every page for every role, from what each page declared: a role below it gets 403,
    one at or above it gets the page (whatever it says), never the login form."""
    ids = await _ids(client)
    declared = {(m, p): requirement_of(r) for m, p, r in routes_with_objects(app)}
    wrong: list[str] = []
    for role in ROLES[:-1]:
        key = await make_key(client, role, name=f"web {role}")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
            answer, token = await sign_in(browser, key.secret)
            assert answer.status_code == 303, answer.text
            for (method, path), sample in WEB_SAMPLES.items():
                need = declared[(method, path)]
                if sample.public or sample.url == "/ui/logout":
                    continue
                url = sample.url.format(**ids)
                data = {**(sample.form or {}), "csrf_token": token} if method == "POST" else None
                got = await browser.request(method, url, data=data)
                allowed = need is not None and satisfies({role}, need)
                refused = got.status_code == 403 or (
                    got.status_code == 303 and "/ui/login" in got.headers.get("location", "")
                )
                if allowed == refused:
                    wrong.append(f"{role} {method} {url}: {got.status_code} (needs {need})")
    assert not wrong, "\n".join(wrong)


async def test_an_invoke_key_cannot_sign_in(
    client: httpx.AsyncClient, browser_like: httpx.AsyncClient
) -> None:
    invoke = await make_key(client, "invoke", name="caller")
    answer, _ = await sign_in(browser_like, invoke.secret)
    assert answer.status_code == 403
    assert "That key has no role" in answer.text
    assert (await browser_like.get("/ui")).status_code == 303


async def test_a_revoked_key_ends_its_web_session(
    client: httpx.AsyncClient, browser_like: httpx.AsyncClient
) -> None:
    admin = await make_key(client, "admin", name="web admin")
    answer, _ = await sign_in(browser_like, admin.secret)
    assert answer.status_code == 303
    assert (await browser_like.get("/ui")).status_code == 200
    assert (await client.delete(f"/api/keys/{admin.id}")).status_code == 204
    assert (await browser_like.get("/ui")).status_code == 303


async def test_a_forged_session_cookie_is_no_session(browser_like: httpx.AsyncClient) -> None:
    forged = URLSafeTimedSerializer("not-the-secret", salt="specloom-web-session").dumps(
        {"k": "0" * 64, "c": "x"}
    )
    browser_like.cookies.set("specloom_session", forged)
    answer = await browser_like.get("/ui")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui"


async def test_an_unknown_agent_is_a_404_page_for_people_and_problem_json_for_scripts(
    client: httpx.AsyncClient, browser_like: httpx.AsyncClient
) -> None:
    await sign_in(browser_like, ADMIN_KEY)
    page = await browser_like.get("/ui/agents/nobody/versions", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no spec named" in page.text
    script = await browser_like.get("/ui/agents/nobody/versions")
    assert script.status_code == 404
    assert script.headers["content-type"] == "application/problem+json"
    api = await client.get("/api/specs/nobody", headers={"Accept": "text/html"})
    assert api.headers["content-type"] == "application/problem+json"
