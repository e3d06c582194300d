"""The Models tab in a real browser: run a model matrix, read its table and chart, use a
model as a new version; the agents list flags a live `auto` version without evidence."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.web.conftest import WebServer, shot, sign_in

# Holds on any schema-valid answer (the server answers with the offline model).
ANY_PRIORITY = {
    "name": "has a priority",
    "input": {"subject": "Leak", "body": "Our customer data was exposed"},
    "expect": [{"path": "/priority", "one_of": ["low", "normal", "high", "urgent"]}],
}


def api(web_server: WebServer) -> httpx.Client:
    return httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )


def test_models_tab_runs_a_matrix_and_uses_a_model(page: Page, web_server: WebServer) -> None:
    with api(web_server) as http:
        created = http.post("/api/specs", json={"document": make_document("matrixed")})
        assert created.status_code == 201, created.text
        case = http.post("/api/specs/matrixed/cases", json=ANY_PRIORITY)
        assert case.status_code == 201, case.text
    sign_in(page, web_server)
    page.goto("/ui/agents/matrixed/models")
    expect(page.locator("#no-matrix")).to_be_visible()

    page.click('button:has-text("Run model matrix")')

    expect(page.locator("#matrix-status .badge").first).to_have_text("finished", timeout=30_000)
    row = page.locator("#matrix tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text("100%")
    expect(row).to_contain_text("offline")  # placeholders: no evidence, so no recommendation
    expect(page.locator("#no-recommendation")).to_be_visible()
    expect(page.locator("#cost-pass-chart circle")).to_have_count(1)
    shot(page, "models-tab")
    model = row.get_attribute("data-model")
    assert model

    row.locator('button:has-text("Use")').click()

    page.wait_for_url("**/ui/agents/matrixed/versions")
    with api(web_server) as http:
        saved = http.get("/api/specs/matrixed/versions/2")
    assert saved.status_code == 200, saved.text
    assert saved.json()["document"]["model"]["name"] == model
    assert "from the model matrix of version 1" in saved.json()["message"]


def test_agents_list_flags_a_live_auto_version_without_a_matrix(
    page: Page, web_server: WebServer
) -> None:
    with api(web_server) as http:
        document = make_document("autoflag", model={"name": "auto"})
        assert http.post("/api/specs", json={"document": document}).status_code == 201
        forced = http.post(
            "/api/specs/autoflag/publish",
            json={"version": 1, "force": True, "reason": "matrix later"},
        )
        assert forced.status_code == 200, forced.text
    sign_in(page, web_server)
    page.goto("/ui")

    flag = page.locator('tr[data-agent="autoflag"] [data-matrix]')
    expect(flag).to_have_attribute("data-matrix", "missing")
    expect(flag).to_have_text("auto: no matrix")
