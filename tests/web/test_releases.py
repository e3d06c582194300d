"""The Releases tab in a real browser: labels, a rollout promoted and aborted, a shadow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.web.conftest import WebServer, shot, sign_in

NAME = "release-tab"
INPUT = {"subject": "Refund", "body": "I was charged twice"}


@pytest.fixture
def api(web_server: WebServer) -> Iterator[httpx.Client]:
    """The admin API of the server the browser uses."""
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        yield client


def _two_versions(api: httpx.Client) -> None:
    # The offline model answers from a version's examples: v2's differ, so do its answers.
    second = make_document(NAME, description="v2")
    second["examples"][0]["output"] = {"team": "technical", "priority": "high", "summary": "x"}
    api.post("/api/specs", json={"document": make_document(NAME)}).raise_for_status()
    api.post(
        f"/api/specs/{NAME}/versions",
        json={"document": second, "base_version": 1},
    ).raise_for_status()
    api.post(f"/api/specs/{NAME}/publish", json={"version": 1}).raise_for_status()


def _calls(api: httpx.Client, count: int) -> None:
    for i in range(count):
        response = api.post(
            f"/v1/agents/{NAME}", json=INPUT, headers={"X-Specloom-Subject": f"u{i}"}
        )
        assert response.status_code == 200, response.text


def test_the_releases_tab_moves_labels_rollouts_and_shadows(
    page: Page, web_server: WebServer, api: httpx.Client
) -> None:
    _two_versions(api)
    sign_in(page, web_server)
    page.goto(f"/ui/agents/{NAME}/releases")
    expect(page.locator('nav.tabs a[aria-current="page"]')).to_have_text("Releases")

    page.fill('#label-form input[name="label"]', "staging")
    page.select_option('#label-form select[name="version"]', "2")
    page.click('#label-form button:has-text("Set label")')
    expect(page.locator('#labels tr[data-label="staging"]')).to_contain_text("v2")
    page.fill('#label-form input[name="label"]', "production")
    page.click('#label-form button:has-text("Set label")')
    expect(page.locator("p.error")).to_contain_text("production")

    page.select_option('#rollout-form select[name="version"]', "2")
    page.fill('#rollout-form input[name="percent"]', "50")
    page.fill('#rollout-form input[name="min_calls"]', "1000")
    page.click('#rollout-form button:has-text("Start rollout")')
    expect(page.locator("#rollout-status")).to_have_text("running")
    _calls(api, 20)
    time.sleep(0.5)  # the execution writer stores the calls off the request path
    page.reload()
    expect(page.locator('#arms tr[data-arm="candidate"]')).to_contain_text("v2")
    shot(page, "30-releases-rollout")
    page.click('#rollout button:has-text("Abort")')
    expect(page.locator("#rollout-status")).to_have_text("aborted")

    page.click('#rollout-form button:has-text("Start rollout")')
    expect(page.locator("#rollout-status")).to_have_text("running")
    page.click('#rollout button:has-text("Promote")')
    expect(page.locator("#rollout-status")).to_have_text("promoted")
    expect(page.locator("hgroup .badge.live")).to_have_text("live v2")

    page.select_option('#shadow-form select[name="version"]', "1")
    page.fill('#shadow-form input[name="sample"]', "1")
    page.click('#shadow-form button:has-text("Start shadow")')
    expect(page.locator("#shadow")).to_have_attribute("data-status", "running")
    shadow_id = api.get(f"/api/specs/{NAME}/shadows").json()["items"][0]["id"]
    _calls(api, 3)
    deadline = time.monotonic() + 10
    while api.get(f"/api/specs/{NAME}/shadows/{shadow_id}").json()["compared"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page.reload()
    expect(page.locator("#shadow-fields")).to_contain_text("/team")
    expect(page.locator("#shadow-agreement")).to_have_text("0 %")  # every field differs
    expect(page.locator("#shadow-differences tbody tr").first).to_contain_text("/team")
    shot(page, "31-releases-shadow")
    page.click('#shadow button:has-text("Stop shadow")')
    expect(page.locator("#shadow")).to_have_attribute("data-status", "stopped")
