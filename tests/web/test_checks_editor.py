"""The editor's checks: edited as JSON, saved into the document, validated live against the
example outputs."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from app.web.spec_form import FormErrors, document_from_form, form_from_document
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.security.test_web_matrix import sign_in
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


async def _preview(app: FastAPI, checks: list[dict[str, Any]], **overrides: Any) -> str:
    document = make_document(**overrides)
    form = form_from_document(document, 0)
    fields = {
        "name": form.name,
        "title": form.title,
        "input_mode": "json",
        "input_raw": json.dumps(document["input_schema"]),
        "output_mode": "json",
        "output_raw": json.dumps(document["output_schema"]),
        "rule": form.rules,
        "examples": form.examples,
        "checks": json.dumps(checks),
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        _, token = await sign_in(http, ADMIN_KEY)
        response = await http.post("/ui/checks-preview", data={**fields, "csrf_token": token})
    assert response.status_code == 200, response.text
    return response.text


async def test_the_preview_shows_an_example_that_fails_a_check(app: FastAPI) -> None:
    normal = {**URGENT, "assert": "output.priority == 'urgent'", "message": "all urgent"}
    text = await _preview(app, [normal])
    assert "fails check" in text
    assert "all urgent" in text


async def test_the_preview_shows_an_expression_error(app: FastAPI) -> None:
    text = await _preview(app, [{**URGENT, "assert": "output.prio == 'low'"}])
    assert "no field &#39;prio&#39;" in text


async def test_the_preview_confirms_checks_that_hold(app: FastAPI) -> None:
    text = await _preview(app, [URGENT])
    assert "1 check(s) valid; every one holds for the 1 example output(s)" in text


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
