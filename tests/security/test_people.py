"""People: invited by an admin, joining with a password or through SSO (OpenID Connect,
authorization code + PKCE, against a provider the test starts on loopback); what they do is
recorded under their name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.factories import create_spec
from tests.fakes.oidc import CLIENT_ID, FakeOidc, User, running_oidc

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def oidc() -> Iterator[FakeOidc]:
    with running_oidc() as provider:
        yield provider


@pytest.fixture
async def sso_app(settings: Settings, oidc: FakeOidc) -> AsyncIterator[FastAPI]:
    web = settings.web.model_copy(
        update={"oidc_issuer": oidc.issuer, "oidc_client_id": CLIENT_ID, "oidc_name": "Acme SSO"}
    )
    async with running_app(settings.model_copy(update={"web": web})) as application:
        yield application


def _browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _csrf(browser: httpx.AsyncClient, url: str) -> str:
    found = _CSRF.search((await browser.get(url)).text)
    assert found is not None
    return found.group(1)


async def _invite(admin: httpx.AsyncClient, email: str, role: str) -> str:
    answer = await admin.post("/api/people/invitations", json={"email": email, "role": role})
    assert answer.status_code == 201, answer.text
    link: str = answer.json()["link"]
    assert link.startswith("http://test/ui/invite?token=")
    return link.removeprefix("http://test")


async def _join(browser: httpx.AsyncClient, link: str, name: str, password: str) -> httpx.Response:
    token = parse_qs(urlsplit(link).query)["token"][0]
    csrf = await _csrf(browser, link)
    return await browser.post(
        "/ui/invite",
        data={
            "csrf_token": csrf,
            "token": token,
            "name": name,
            "password": password,
            "password_again": password,
        },
    )


async def test_an_invited_person_joins_and_their_publish_names_them(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await create_spec(client, "triage")
    link = await _invite(client, "Ada@Example.com", "publisher")
    async with _browser(app) as browser:
        page = await browser.get(link)
        assert "ada@example.com" in page.text
        assert 'id="invited-role">publisher<' in page.text
        short = await _join(browser, link, "Ada Lovelace", "short")
        assert short.status_code == 422
        joined = await _join(browser, link, "Ada Lovelace", "correct horse battery")
        assert joined.status_code == 303, joined.text
        home = await browser.get("/ui")
        assert home.status_code == 200
        assert "Ada Lovelace &lt;ada@example.com&gt; · publisher" in home.text
        assert "/ui/keys" not in home.text  # an admin's link, hidden from a publisher
        csrf = _CSRF.search(home.text)
        assert csrf is not None
        published = await browser.post(
            "/ui/agents/triage/publish", data={"csrf_token": csrf.group(1), "version": "1"}
        )
        assert published.status_code == 303, published.text
        again = await browser.get(link)
        assert again.status_code == 410  # the link works once
    release = (await client.get("/api/specs/triage/releases")).json()["items"][-1]
    assert release["actor"] == "Ada Lovelace <ada@example.com>"
    events = (await client.get("/api/audit?target=spec:triage")).json()["items"]
    assert events[0]["action"] == "spec.published"
    assert events[0]["actor"] == "ada@example.com"
    people = (await client.get("/api/people")).json()["items"]
    assert [(p["email"], p["role"], p["sso"]) for p in people] == [
        ("ada@example.com", "publisher", False)
    ]


async def test_password_sign_in_and_removal(client: httpx.AsyncClient, app: FastAPI) -> None:
    link = await _invite(client, "bob@example.com", "viewer")
    async with _browser(app) as joiner:
        assert (await _join(joiner, link, "Bob", "a long enough password")).status_code == 303
    async with _browser(app) as browser:
        csrf = await _csrf(browser, "/ui/login")
        wrong = await browser.post(
            "/ui/login/password",
            data={"csrf_token": csrf, "email": "bob@example.com", "password": "nope nope nope"},
        )
        assert wrong.status_code == 401
        right = await browser.post(
            "/ui/login/password",
            data={
                "csrf_token": csrf,
                "email": "BOB@example.com",
                "password": "a long enough password",
            },
        )
        assert right.status_code == 303
        assert (await browser.get("/ui")).status_code == 200
        refused = await browser.get("/ui/people", headers={"Accept": "text/html"})
        assert refused.status_code == 403  # a viewer: the admins' page is refused
        person = (await client.get("/api/people")).json()["items"][0]
        removed = await client.patch(f"/api/people/{person['id']}", json={"disabled": True})
        assert removed.status_code == 200
        assert (await browser.get("/ui")).status_code == 303  # signed out by the removal


async def _sso(browser: httpx.AsyncClient, oidc: FakeOidc) -> httpx.Response:
    """Start SSO here, let the provider sign in its user, and come back."""
    start = await browser.get("/ui/sso/start?next=/ui/executions")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(oidc.issuer + "/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "nonce" in query
    async with httpx.AsyncClient() as outside:
        back = await outside.get(authorize)
    assert back.status_code == 302, back.text
    return await browser.get(back.headers["location"].removeprefix("http://test"))


async def test_oidc_sign_in_with_pkce_against_the_loopback_provider(
    sso_app: FastAPI, oidc: FakeOidc
) -> None:
    async with admin_client(sso_app) as admin:
        await _invite(admin, "grace@example.com", "author")
        async with _browser(sso_app) as browser:
            login = await browser.get("/ui/login")
            assert "Sign in with Acme SSO" in login.text
            came_back = await _sso(browser, oidc)
            assert came_back.status_code == 303, came_back.text
            assert came_back.headers["location"] == "/ui/executions"
            home = await browser.get("/ui")
            assert "Grace Hopper &lt;grace@example.com&gt; · author" in home.text
        # the token request carried the verifier (checked by the provider against the challenge)
        assert oidc.token_requests[-1]["code_verifier"]
        assert oidc.token_requests[-1]["client_id"] == CLIENT_ID
        person = (await admin.get("/api/people")).json()["items"][0]
        assert (person["email"], person["role"], person["sso"]) == (
            "grace@example.com",
            "author",
            True,
        )
        # the second time, the person is known by issuer and subject
        async with _browser(sso_app) as browser:
            assert (await _sso(browser, oidc)).status_code == 303
        events = (await admin.get("/api/audit?action=ui.signed_in")).json()["items"]
        assert [e["actor"] for e in events[:2]] == ["grace@example.com"] * 2


@pytest.mark.parametrize("tamper", ["signature", "audience", "nonce", "expired"])
async def test_an_id_token_that_does_not_check_out_signs_nobody_in(
    sso_app: FastAPI, oidc: FakeOidc, tamper: str
) -> None:
    async with admin_client(sso_app) as admin:
        await _invite(admin, "grace@example.com", "author")
    oidc.tamper = tamper
    async with _browser(sso_app) as browser:
        refused = await _sso(browser, oidc)
        assert refused.status_code == 403
        assert "the ID token was refused" in refused.text
        assert (await browser.get("/ui")).status_code == 303


async def test_sso_without_an_account_or_invitation_is_refused(
    sso_app: FastAPI, oidc: FakeOidc
) -> None:
    oidc.user = User("stranger", "mallory@example.com")
    async with _browser(sso_app) as browser:
        refused = await _sso(browser, oidc)
        assert refused.status_code == 403
        assert "mallory@example.com has no account here" in refused.text


async def test_a_callback_that_was_not_started_here_is_refused(sso_app: FastAPI) -> None:
    async with _browser(sso_app) as browser:
        forged = await browser.get("/ui/sso/callback?code=abc&state=xyz")
        assert forged.status_code == 403
        assert "does not belong to a sign-in started here" in forged.text


async def test_no_sso_button_when_sso_is_not_configured(app: FastAPI) -> None:
    async with _browser(app) as browser:
        assert "sso-button" not in (await browser.get("/ui/login")).text


async def test_a_revoked_invitation_link_stops_working(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    link = await _invite(client, "eve@example.com", "admin")
    pending = (await client.get("/api/people/invitations")).json()["items"]
    assert [i["email"] for i in pending] == ["eve@example.com"]
    revoked = await client.delete(f"/api/people/invitations/{pending[0]['id']}")
    assert revoked.status_code == 204
    assert (await client.get("/api/people/invitations")).json()["items"] == []
    async with _browser(app) as browser:
        assert (await browser.get(link)).status_code == 410
    again = await client.delete(f"/api/people/invitations/{pending[0]['id']}")
    assert again.status_code == 204  # idempotent, like revoking a key
