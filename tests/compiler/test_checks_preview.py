"""The editor's live check preview (`POST /ui/checks-preview`), without a browser: it lives
outside tests/web, whose package-wide sync Playwright loop would be in an async test's way."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI

from app.web.spec_form import form_from_document
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.security.test_web_matrix import sign_in

URGENT = {"name": "not-urgent", "assert": "output.priority != 'urgent'", "message": "calm"}


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
