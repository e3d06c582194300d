"""Teams in a real browser: an invited author joins and sees no Publish; with approvals on,
a second publisher approves another's publish from the Versions page; and SSO sign-in
against an OpenID Connect provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.factories import make_document
from tests.fakes.oidc import CLIENT_ID, running_oidc
from tests.servers import running_server
from tests.web.conftest import LAPTOP, WebServer, server_env, shot


def _invite(api: httpx.Client, email: str, role: str) -> str:
    answer = api.post("/api/people/invitations", json={"email": email, "role": role})
    assert answer.status_code == 201, answer.text
    link: str = answer.json()["link"]
    return link


def _join(page: Page, link: str, name: str) -> None:
    page.goto(link)
    page.fill('#join-form input[name="name"]', name)
    page.fill('#join-form input[name="password"]', "a long enough password")
    page.fill('#join-form input[name="password_again"]', "a long enough password")
    page.click('#join-form button:has-text("Join")')
    page.wait_for_url("**/ui")


def test_an_invited_author_joins_and_sees_no_publish(
    page: Page, web_server: WebServer, api: httpx.Client
) -> None:
    assert api.post("/api/specs", json={"document": make_document("team-rules")}).is_success
    _join(page, _invite(api, "ada@example.com", "author"), "Ada Lovelace")
    expect(page.locator("#who")).to_have_text("Ada Lovelace <ada@example.com> · author")
    expect(page.locator('a[href="/ui/keys"]')).to_have_count(0)
    expect(page.locator('a[href="/ui/agents/new"]')).to_have_count(1)
    page.goto("/ui/agents/team-rules/versions")
    expect(page.locator("#publish-form")).to_have_count(0)
    expect(page.locator('nav.tabs a:has-text("Edit")')).to_have_count(1)
    expect(page.locator("#guardrails-form")).to_have_count(0)  # admins set guardrails
    shot(page, "teams-author-versions")


def test_a_second_publisher_approves_a_publish_in_the_browser(
    page: Page, web_server: WebServer, api: httpx.Client
) -> None:
    assert api.post("/api/specs", json={"document": make_document("team-approve")}).is_success
    guard = api.put("/api/specs/team-approve/guardrails", json={"require_approval": True})
    assert guard.status_code == 200, guard.text
    first = api.post("/api/keys", json={"name": "ann", "scopes": ["publisher"]}).json()
    asked = api.post(
        "/api/specs/team-approve/publish",
        json={"version": 1, "reason": "first release"},
        headers={"Authorization": f"Bearer {first['secret']}"},
    )
    assert asked.status_code == 202, asked.text
    _join(page, _invite(api, "bob@example.com", "publisher"), "Bob")
    page.goto("/ui/agents/team-approve/versions")
    request = page.locator("#release-requests article")
    expect(request).to_contain_text("Publish v1 requested by ann")
    expect(request).to_contain_text("first release")
    shot(page, "teams-approval-pending")
    request.locator('input[name="note"]').fill("checked")
    request.locator('button:has-text("Approve and publish")').click()
    expect(page.locator("hgroup .badge.live")).to_have_text("live v1")
    expect(page.locator("#release-requests")).to_have_count(0)
    release = api.get("/api/specs/team-approve/releases").json()["items"][-1]
    assert release["actor"] == "Bob <bob@example.com>"


@pytest.fixture(scope="module")
def sso_server(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server, with SSO pointed at a provider on loopback; yields its URL."""
    data = tmp_path_factory.mktemp("sso-data")
    with running_oidc() as provider, fresh_database(pg_server) as url:
        env = server_env(
            url,
            data,
            SPECLOOM_OIDC_ISSUER=provider.issuer,
            SPECLOOM_OIDC_CLIENT_ID=CLIENT_ID,
            SPECLOOM_OIDC_NAME="Acme SSO",
        )
        with running_server(env, log_path=data / "serve.log") as process:
            yield process.base_url


def test_sso_sign_in_in_the_browser(browser: Browser, sso_server: str) -> None:
    with httpx.Client(base_url=sso_server, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
        _invite(api, "grace@example.com", "viewer")
    context = browser.new_context(base_url=sso_server, viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto("/ui")
        page.wait_for_url("**/ui/login**")
        shot(page, "teams-login-sso")
        page.click("#sso-button")
        page.wait_for_url(f"{sso_server}/ui")
        expect(page.locator("#who")).to_have_text("Grace Hopper <grace@example.com> · viewer")
        expect(page.locator('a[href="/ui/agents/new"]')).to_have_count(0)  # a viewer
    finally:
        context.close()
