"""The editor's checks: edited as JSON, saved into the document, validated live against the
example outputs."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Page, expect

from app.web.spec_form import FormErrors, document_from_form, form_from_document
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.web.conftest import WebServer, shot
from tests.web.conftest import sign_in as sign_in_page

URGENT = {"name": "not-urgent", "assert": "output.priority != 'urgent'", "message": "calm"}


def test_checks_round_trip_through_the_form() -> None:
    document = make_document(checks=[URGENT])
    form = form_from_document(document, 1)
    errors = FormErrors()
    assert document_from_form(form, errors)["checks"] == [URGENT]
    assert not errors
    assert "checks" not in document_from_form(form_from_document(make_document(), 1), errors)


def test_typing_a_check_validates_it_live_against_the_examples(
    page: Page, web_server: WebServer
) -> None:
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        created = api.post("/api/specs", json={"document": make_document("checked")})
        assert created.status_code == 201, created.text
    sign_in_page(page, web_server)
    page.goto("/ui/agents/checked/edit")
    page.locator("summary:has-text('Checks')").click()
    broken = {**URGENT, "assert": "output.priority == 'urgent'", "message": "all urgent"}
    page.fill('textarea[name="checks"]', json.dumps([broken]))
    expect(page.locator("#checks-result")).to_contain_text("fails check")
    page.fill('textarea[name="checks"]', json.dumps([URGENT]))
    expect(page.locator("#checks-result")).to_contain_text("holds for the 1 example output(s)")
    shot(page, "editor-checks")

    page.fill('input[name="message"]', "a check")
    page.click('button:has-text("Save as version 2")')
    page.wait_for_url("**/versions")
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        saved = api.get("/api/specs/checked/versions/2").json()
    assert saved["document"]["checks"] == [URGENT]
