"""Forms in a real browser: errors at the field with nothing lost, conflicts, CSRF, redaction."""

from __future__ import annotations

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.web.conftest import WebServer, shot, sign_in

RULE = "A rule I typed carefully and do not want to type again."


def test_invalid_form_shows_errors_at_the_field_and_keeps_what_was_typed(
    page: Page, web_server: WebServer
) -> None:
    sign_in(page, web_server)
    page.goto("/ui/agents/new")
    page.fill('input[name="name"]', "Bad Name")
    page.fill('input[name="title"]', "Keeps my title")
    page.fill('input[name="input-0-constraints"]', "maxLength=-3")
    page.locator('textarea[name="rule"]').first.fill(RULE)
    page.click('button:has-text("Create agent")')

    name_label = page.locator('label:has(input[name="name"])')
    expect(name_label.locator(".field-error")).to_contain_text("pattern")
    expect(page.locator('input[name="name"]')).to_have_value("Bad Name")
    expect(page.locator('input[name="title"]')).to_have_value("Keeps my title")
    expect(page.locator('input[name="input-0-constraints"]')).to_have_value("maxLength=-3")
    expect(page.locator('textarea[name="rule"]').first).to_have_value(RULE)

    # with the name fixed, the schema problem lands on its row, and still nothing is lost
    page.fill('input[name="name"]', "good-name")
    page.click('button:has-text("Create agent")')
    row = page.locator("#section-input tr.field-row").first
    expect(row.locator(".field-error")).to_contain_text("maxLength")
    expect(row.locator('input[aria-label="constraints"]')).to_have_value("maxLength=-3")
    expect(page.locator('textarea[name="rule"]').first).to_have_value(RULE)
    expect(page.locator('input[name="title"]')).to_have_value("Keeps my title")
    shot(page, "03-editor-errors")


def test_a_stale_save_reports_the_conflict_and_keeps_the_edit(
    context: BrowserContext, web_server: WebServer
) -> None:
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        created = api.post("/api/specs", json={"document": make_document("conflicted")})
        assert created.status_code == 201, created.text
    first, second = context.new_page(), context.new_page()
    sign_in(first, web_server)
    first.goto("/ui/agents/conflicted/edit")
    second.goto("/ui/agents/conflicted/edit")
    first.fill('input[name="title"]', "Saved first")
    first.fill('input[name="message"]', "first")
    first.click('button:has-text("Save as version 2")')
    first.wait_for_url("**/versions")

    second.fill('input[name="title"]', "Saved second")
    second.fill('input[name="message"]', "second")
    second.click('button:has-text("Save as version 2")')
    expect(second.locator(".conflict")).to_contain_text("someone saved version 2")
    expect(second.locator('input[name="title"]')).to_have_value("Saved second")
    # saving again, knowingly, builds on version 2
    second.click('button:has-text("Save as version 3")')
    second.wait_for_url("**/versions")
    expect(second.locator('#versions tr[data-version="3"]')).to_contain_text("second")


def test_a_post_without_the_csrf_token_is_refused(page: Page, web_server: WebServer) -> None:
    sign_in(page, web_server)
    page.goto("/ui/keys")
    token = page.locator('#key-form input[name="csrf_token"]').input_value()

    missing = page.request.post("/ui/keys", form={"name": "no token", "scope": "invoke"})
    assert missing.status == 403
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = page.request.post(
        "/ui/keys", form={"name": "bad token", "scope": "invoke", "csrf_token": "forged"}
    )
    assert wrong.status == 403
    right = page.request.post(
        "/ui/keys", form={"name": "with token", "scope": "invoke", "csrf_token": token}
    )
    assert right.status == 200
    page.goto("/ui/keys")
    expect(page.locator("#keys")).to_contain_text("with token")
    assert "no token" not in page.content()
    assert "bad token" not in page.content()


def test_pages_never_show_a_sensitive_input(page: Page, web_server: WebServer) -> None:
    secret = "4111-1111-1111-1111"
    schema = {
        "type": "object",
        "properties": {
            "card": {"type": "string", "x-sensitive": True},
            "subject": {"type": "string"},
            "body": {"type": "string"},
        },
        "required": ["card", "subject", "body"],
    }
    document = make_document("card-check", input_schema=schema, examples=[])
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        assert api.post("/api/specs", json={"document": document}).status_code == 201
        published = api.post("/api/specs/card-check/publish", json={"version": 1})
        assert published.status_code == 200, published.text
        call = api.post(
            "/v1/agents/card-check", json={"card": secret, "subject": "Pay", "body": "card"}
        )
        assert call.status_code == 200, call.text
        execution_id = call.headers["x-specloom-execution-id"]

    sign_in(page, web_server)
    for url in (
        f"/ui/executions/{execution_id}",
        "/ui/executions?agent=card-check",
        "/ui/agents/card-check/executions",
        "/ui/agents/card-check/api",
    ):
        page.goto(url)
        assert secret not in page.content(), url
    page.goto(f"/ui/executions/{execution_id}")
    expect(page.locator("#execution-input")).to_contain_text("[redacted]")
    expect(page.locator("#execution-input")).to_contain_text("Pay")
    # the playground asks for a sensitive field like for a password
    page.goto("/ui/agents/card-check/playground")
    expect(page.locator('input[name="in.card"]')).to_have_attribute("type", "password")
