"""The executions page's charts read as charts: a y-axis in the chart's unit, round ticks,
a legend coloured like its lines, and a cost axis that says $0 when nothing cost anything
(it used to read "max $1.00")."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.web.conftest import WebServer, shot, sign_in

AGENT = "chart-reader"


@pytest.fixture(scope="module")
def called(web_server: WebServer) -> None:
    """A live agent the offline model answered three times, at no cost."""
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        document = make_document(AGENT)
        assert api.post("/api/specs", json={"document": document}).status_code == 201
        published = api.post(
            f"/api/specs/{AGENT}/publish",
            json={"version": 1, "force": True, "reason": "charts"},
        )
        assert published.status_code == 200, published.text
        for i in range(3):
            answered = api.post(
                f"/v1/agents/{AGENT}", json={"subject": f"Refund {i}", "body": "Charged twice"}
            )
            assert answered.status_code == 200, answered.text


def test_charts_have_axes_units_and_legends_coloured_like_their_lines(
    page: Page, web_server: WebServer, called: None
) -> None:
    sign_in(page, web_server)
    page.goto(f"/ui/agents/{AGENT}/executions")
    charts = page.locator("#charts svg")
    expect(charts).to_have_count(3)
    calls, latency, cost = charts.nth(0), charts.nth(1), charts.nth(2)
    # The calls arrive in the writer's batches: wait for them to be drawn.
    for _ in range(20):
        if calls.locator("circle").count():
            break
        page.wait_for_timeout(250)
        page.reload()
        calls = page.locator("#charts svg").nth(0)

    assert calls.locator("text.tick").count() >= 3  # 0, a middle tick, the top
    assert "0" in calls.locator("text.tick").all_text_contents()
    assert any(t.endswith(" ms") for t in latency.locator("text.tick").all_text_contents())
    # Nothing cost anything: one tick, $0, and no invented maximum.
    assert cost.locator("text.tick").all_text_contents()[:1] == ["$0"]
    expect(cost).not_to_contain_text("$1.00")

    for chart in (calls, latency, cost):
        lines = chart.locator("polyline")
        swatches = chart.locator("rect.swatch")
        assert swatches.count() == lines.count() >= 1
        for i in range(lines.count()):
            stroke = lines.nth(i).evaluate("e => getComputedStyle(e).stroke")
            fill = swatches.nth(i).evaluate("e => getComputedStyle(e).fill")
            assert fill == stroke, (fill, stroke)
    shot(page, "charts")


def test_a_failed_execution_without_attempts_says_why(
    page: Page, web_server: WebServer, called: None
) -> None:
    """A call refused before any model was asked (its input broke the contract) showed an
    empty Attempts heading."""
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as api:
        failed = api.post(f"/v1/agents/{AGENT}", json={"subject": "No body"})
    assert failed.status_code == 422, failed.text
    sign_in(page, web_server)
    page.goto(f"/ui/executions/{failed.headers['x-specloom-execution-id']}")
    for _ in range(20):  # the record arrives with the writer's next batch
        if page.locator("#execution-input").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator("#no-attempts")).to_contain_text("No model was asked")
    expect(page.locator("details")).to_have_count(0)
